//! SMS through Aliyun SMS (阿里云短信, Dysmsapi 2017-05-25 `SendSms`), signed the RPC way: the
//! request's parameters sorted by name, each name and value percent-encoded (RFC 3986: only
//! `A-Z a-z 0-9 - _ . ~` stay as they are, a space is `%20`), joined with `&`; the string to
//! sign is `POST&%2F&` plus that canonical query, encoded once more; the signature is
//! Base64(HMAC-SHA1(AccessKeySecret + "&", string to sign)).
//!
//! The template (`TemplateCode`) is registered with Aliyun per kind; its variables are
//! `${account_no}`, `${balance}` and, for a top-up, `${amount}` (`TemplateParam`, a JSON
//! object). A `Code` other than `OK` is the provider refusing: an error, retried by the outbox.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use async_trait::async_trait;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use store::notifier::{Notifier, NotifyError, TemplatedMessage};

use super::template::template_id;
use crate::settings::{AliyunSmsSettings, TemplateIds};

/// The real endpoint.
pub const DEFAULT_BASE_URL: &str = "https://dysmsapi.aliyuncs.com";

pub struct AliyunSms {
    client: reqwest::Client,
    base_url: String,
    access_key_id: String,
    secret: SecretString,
    sign_name: String,
    templates: TemplateIds,
}

/// RFC 3986 percent-encoding as Aliyun's signature wants it.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The canonical query string of `params` (sorted by the map).
pub fn canonical_query(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `Signature` of a request with `params` (everything but `Signature`).
pub fn sign(secret: &str, method: &str, params: &BTreeMap<String, String>) -> String {
    let string_to_sign = format!(
        "{method}&{}&{}",
        percent_encode("/"),
        percent_encode(&canonical_query(params))
    );
    // HMAC takes a key of any length; the error is unreachable.
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A mainland number as Aliyun wants it: 11 digits, no `+86`.
fn mainland(phone: &str) -> String {
    let p = phone.trim().trim_start_matches('+');
    match p.strip_prefix("86") {
        Some(rest) if rest.len() == 11 => rest.to_owned(),
        _ => p.to_owned(),
    }
}

impl AliyunSms {
    pub fn new(s: &AliyunSmsSettings) -> anyhow::Result<Self> {
        let secret = s.access_key_secret.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "notify.aliyun_sms needs access_key_secret (or WATTPAY_ALIYUN_SMS_ACCESS_KEY_SECRET)"
            )
        })?;
        Ok(AliyunSms {
            client: super::http_client()?,
            base_url: s
                .base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            access_key_id: s.access_key_id.clone(),
            secret,
            sign_name: s.sign_name.clone(),
            templates: s.templates.clone(),
        })
    }
}

#[async_trait]
impl Notifier for AliyunSms {
    async fn send_sms(&self, _to: &str, _text: &str) -> Result<(), NotifyError> {
        Err(NotifyError::Provider(
            "Aliyun SMS sends templates only, not free text".into(),
        ))
    }

    async fn send_email(&self, _to: &str, _subject: &str, _body: &str) -> Result<(), NotifyError> {
        Err(NotifyError::Provider(
            "Aliyun SMS does not send mail".into(),
        ))
    }

    async fn send_templated_sms(
        &self,
        to: &str,
        message: &TemplatedMessage,
    ) -> Result<(), NotifyError> {
        let template = template_id(&self.templates, message).ok_or_else(|| {
            NotifyError::Provider(format!(
                "no Aliyun SMS template for {:?} (notify.aliyun_sms.templates)",
                message.template
            ))
        })?;
        let template_param: serde_json::Map<String, serde_json::Value> = message
            .params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let mut params: BTreeMap<String, String> = [
            ("AccessKeyId", self.access_key_id.clone()),
            ("Action", "SendSms".to_owned()),
            ("Format", "JSON".to_owned()),
            ("PhoneNumbers", mainland(to)),
            ("RegionId", "cn-hangzhou".to_owned()),
            ("SignName", self.sign_name.clone()),
            ("SignatureMethod", "HMAC-SHA1".to_owned()),
            ("SignatureNonce", uuid::Uuid::new_v4().to_string()),
            ("SignatureVersion", "1.0".to_owned()),
            ("TemplateCode", template.to_owned()),
            (
                "TemplateParam",
                serde_json::Value::Object(template_param).to_string(),
            ),
            (
                "Timestamp",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ),
            ("Version", "2017-05-25".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let signature = sign(self.secret.expose_secret(), "POST", &params);
        params.insert("Signature".into(), signature);
        let res = self
            .client
            .post(format!("{}/", self.base_url.trim_end_matches('/')))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(canonical_query(&params))
            .send()
            .await
            .map_err(|e| NotifyError::Provider(format!("Aliyun SMS unreachable: {e}")))?;
        let status = res.status();
        let answer: serde_json::Value = res.json().await.map_err(|e| {
            NotifyError::Provider(format!("Aliyun SMS answered {status} without JSON: {e}"))
        })?;
        match answer["Code"].as_str() {
            Some("OK") => Ok(()),
            code => Err(NotifyError::Provider(format!(
                "Aliyun SMS refused ({status}): {} {}",
                code.unwrap_or("?"),
                answer["Message"].as_str().unwrap_or("")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_rfc_3986_way() {
        assert_eq!(percent_encode("a b*~/+é"), "a%20b%2A~%2F%2B%C3%A9");
        assert_eq!(mainland("+8613800000000"), "13800000000");
        assert_eq!(mainland("13800000000"), "13800000000");
    }
}
