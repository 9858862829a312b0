//! SMS through Tencent Cloud SMS (腾讯云短信, `SendSms`, API version 2021-01-11), signed with
//! TC3-HMAC-SHA256: the canonical request (`POST`, `/`, empty query, the headers
//! `content-type` and `host`, the SHA-256 of the JSON body) is hashed into the string to sign
//! (`TC3-HMAC-SHA256`, the timestamp, the scope `{date}/sms/tc3_request`); the key is derived
//! by HMAC-SHA256 chaining `"TC3" + SecretKey` → date → `sms` → `tc3_request`.
//!
//! The template (`TemplateId`) is registered with Tencent per kind; its positional parameters
//! are the account number, the balance, and for a top-up the account number, the amount and
//! the balance (`TemplateParamSet`). An error answer, or a send status other than `Ok`, is the
//! provider refusing: an error, retried by the outbox.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use store::notifier::{Notifier, NotifyError, TemplatedMessage};

use super::template::template_id;
use crate::settings::{TemplateIds, TencentSmsSettings};

/// The real endpoint.
pub const DEFAULT_BASE_URL: &str = "https://sms.tencentcloudapi.com";
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

pub struct TencentSms {
    client: reqwest::Client,
    base_url: String,
    secret_id: String,
    secret_key: SecretString,
    sdk_app_id: String,
    sign_name: String,
    region: String,
    templates: TemplateIds,
}

fn hmac256(key: &[u8], msg: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(msg.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The `Authorization` header of a `POST /` with `body` to `host` at `timestamp` (seconds).
pub fn authorization(
    secret_id: &str,
    secret_key: &str,
    host: &str,
    body: &str,
    timestamp: i64,
) -> String {
    let date = chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string();
    let canonical_request = format!(
        "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{host}\n\ncontent-type;host\n{}",
        hex::encode(Sha256::digest(body.as_bytes()))
    );
    let scope = format!("{date}/sms/tc3_request");
    let string_to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac256(format!("TC3{secret_key}").as_bytes(), &date);
    let k_service = hmac256(&k_date, "sms");
    let k_signing = hmac256(&k_service, "tc3_request");
    let signature = hex::encode(hmac256(&k_signing, &string_to_sign));
    format!(
        "TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"
    )
}

/// E.164 as Tencent wants it: `+86` before a mainland number.
fn e164(phone: &str) -> String {
    let p = phone.trim();
    if p.starts_with('+') {
        p.to_owned()
    } else {
        format!("+86{p}")
    }
}

impl TencentSms {
    pub fn new(s: &TencentSmsSettings) -> anyhow::Result<Self> {
        let secret_key = s.secret_key.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "notify.tencent_sms needs secret_key (or WATTPAY_TENCENT_SMS_SECRET_KEY)"
            )
        })?;
        Ok(TencentSms {
            client: super::http_client()?,
            base_url: s
                .base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            secret_id: s.secret_id.clone(),
            secret_key,
            sdk_app_id: s.sdk_app_id.clone(),
            sign_name: s.sign_name.clone(),
            region: s.region.clone().unwrap_or_else(|| "ap-guangzhou".into()),
            templates: s.templates.clone(),
        })
    }
}

#[async_trait]
impl Notifier for TencentSms {
    async fn send_sms(&self, _to: &str, _text: &str) -> Result<(), NotifyError> {
        Err(NotifyError::Provider(
            "Tencent Cloud SMS sends templates only, not free text".into(),
        ))
    }

    async fn send_email(&self, _to: &str, _subject: &str, _body: &str) -> Result<(), NotifyError> {
        Err(NotifyError::Provider(
            "Tencent Cloud SMS does not send mail".into(),
        ))
    }

    async fn send_templated_sms(
        &self,
        to: &str,
        message: &TemplatedMessage,
    ) -> Result<(), NotifyError> {
        let template = template_id(&self.templates, message).ok_or_else(|| {
            NotifyError::Provider(format!(
                "no Tencent SMS template for {:?} (notify.tencent_sms.templates)",
                message.template
            ))
        })?;
        let body = serde_json::json!({
            "PhoneNumberSet": [e164(to)],
            "SmsSdkAppId": self.sdk_app_id,
            "SignName": self.sign_name,
            "TemplateId": template,
            "TemplateParamSet": message.params.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>(),
        })
        .to_string();
        let url = reqwest::Url::parse(&format!("{}/", self.base_url.trim_end_matches('/')))
            .map_err(|e| NotifyError::Provider(format!("Tencent SMS base URL: {e}")))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => {
                return Err(NotifyError::Provider(
                    "Tencent SMS base URL has no host".into(),
                ))
            }
        };
        let timestamp = chrono::Utc::now().timestamp();
        let auth = authorization(
            &self.secret_id,
            self.secret_key.expose_secret(),
            &host,
            &body,
            timestamp,
        );
        let res = self
            .client
            .post(url)
            .header("Authorization", auth)
            .header("Content-Type", CONTENT_TYPE)
            .header("Host", &host)
            .header("X-TC-Action", "SendSms")
            .header("X-TC-Version", "2021-01-11")
            .header("X-TC-Timestamp", timestamp.to_string())
            .header("X-TC-Region", &self.region)
            .body(body)
            .send()
            .await
            .map_err(|e| NotifyError::Provider(format!("Tencent SMS unreachable: {e}")))?;
        let status = res.status();
        let answer: serde_json::Value = res.json().await.map_err(|e| {
            NotifyError::Provider(format!("Tencent SMS answered {status} without JSON: {e}"))
        })?;
        let r = &answer["Response"];
        if let Some(error) = r.get("Error") {
            return Err(NotifyError::Provider(format!(
                "Tencent SMS refused: {} {}",
                error["Code"].as_str().unwrap_or("?"),
                error["Message"].as_str().unwrap_or("")
            )));
        }
        let sent = &r["SendStatusSet"][0];
        match sent["Code"].as_str() {
            Some("Ok") => Ok(()),
            code => Err(NotifyError::Provider(format!(
                "Tencent SMS did not send: {} {}",
                code.unwrap_or("?"),
                sent["Message"].as_str().unwrap_or("")
            ))),
        }
    }
}
