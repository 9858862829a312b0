//! WeChat official-account template messages (公众号模板消息) to tenants bound by openid: an
//! access token from `cgi-bin/token` (client credentials), cached until shortly before it
//! expires and fetched again when WeChat says it is invalid or expired; then
//! `cgi-bin/message/template/send` with the openid, the template of the kind, a link to the
//! account's door page and the data fields.
//!
//! Data keys are the template's (the official account's template library fixes them); the
//! defaults `first`, `keyword1` (account), `keyword2` (balance), `keyword3` (amount), `remark`
//! match the classic templates and `notify.wechat.fields` renames them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use store::notifier::{Notifier, NotifyError, TemplatedMessage};
use tokio::sync::Mutex;

use super::template::template_id;
use crate::settings::{TemplateIds, WechatSettings};

/// The real API host.
pub const DEFAULT_BASE_URL: &str = "https://api.weixin.qq.com";
/// A token is fetched again this long before WeChat's expiry.
const MARGIN: Duration = Duration::from_secs(300);
/// errcodes meaning "fetch a new token": invalid credential, invalid token, token expired.
const TOKEN_ERRORS: [i64; 3] = [40001, 40014, 42001];

pub struct WechatTemplates {
    client: reqwest::Client,
    base_url: String,
    appid: String,
    secret: SecretString,
    templates: TemplateIds,
    fields: BTreeMap<String, String>,
    token: Mutex<Option<(String, Instant)>>,
}

impl WechatTemplates {
    pub fn new(s: &WechatSettings) -> anyhow::Result<Self> {
        let secret = s.secret.clone().ok_or_else(|| {
            anyhow::anyhow!("notify.wechat needs secret (or WATTPAY_WECHAT_MP_SECRET)")
        })?;
        Ok(WechatTemplates {
            client: super::http_client()?,
            base_url: s
                .base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            appid: s.appid.clone(),
            secret,
            templates: s.templates.clone(),
            fields: s.fields.clone(),
            token: Mutex::new(None),
        })
    }

    fn field<'a>(&'a self, name: &'a str, default: &'a str) -> &'a str {
        self.fields.get(name).map_or(default, String::as_str)
    }

    /// The cached token, or a new one.
    async fn token(&self, fresh: bool) -> Result<String, NotifyError> {
        let mut cached = self.token.lock().await;
        if !fresh {
            if let Some((token, until)) = cached.as_ref() {
                if Instant::now() < *until {
                    return Ok(token.clone());
                }
            }
        }
        let answer: serde_json::Value = self
            .client
            .get(format!("{}/cgi-bin/token", self.base_url))
            .query(&[
                ("grant_type", "client_credential"),
                ("appid", self.appid.as_str()),
                ("secret", self.secret.expose_secret()),
            ])
            .send()
            .await
            .map_err(|e| NotifyError::Provider(format!("WeChat token unreachable: {e}")))?
            .json()
            .await
            .map_err(|e| NotifyError::Provider(format!("WeChat token answer: {e}")))?;
        let Some(token) = answer["access_token"].as_str().filter(|t| !t.is_empty()) else {
            return Err(NotifyError::Provider(format!(
                "WeChat refused a token: {} {}",
                answer["errcode"],
                answer["errmsg"].as_str().unwrap_or("")
            )));
        };
        let lifetime = Duration::from_secs(answer["expires_in"].as_u64().unwrap_or(7200));
        let until = Instant::now() + lifetime.saturating_sub(MARGIN);
        *cached = Some((token.to_owned(), until));
        Ok(token.to_owned())
    }

    fn body(&self, openid: &str, template: &str, m: &TemplatedMessage) -> serde_json::Value {
        let mut data = serde_json::Map::new();
        let mut put = |key: &str, value: String| {
            data.insert(key.to_owned(), serde_json::json!({ "value": value }));
        };
        put(self.field("first", "first"), m.subject.clone());
        for (name, value) in &m.params {
            let (key, value) = match name.as_str() {
                "account_no" => (self.field("account_no", "keyword1"), value.clone()),
                "balance" => (self.field("balance", "keyword2"), format!("¥{value}")),
                "amount" => (self.field("amount", "keyword3"), format!("¥{value}")),
                other => (self.field(other, other), value.clone()),
            };
            put(key, value);
        }
        put(self.field("remark", "remark"), m.text.clone());
        let mut body = serde_json::json!({
            "touser": openid,
            "template_id": template,
            "data": data,
        });
        if let Some(url) = &m.url {
            body["url"] = url.clone().into();
        }
        body
    }
}

#[async_trait]
impl Notifier for WechatTemplates {
    async fn send_sms(&self, _to: &str, _text: &str) -> Result<(), NotifyError> {
        Err(NotifyError::Provider("WeChat does not send SMS".into()))
    }

    async fn send_email(&self, _to: &str, _subject: &str, _body: &str) -> Result<(), NotifyError> {
        Err(NotifyError::Provider("WeChat does not send mail".into()))
    }

    async fn send_wechat(&self, openid: &str, m: &TemplatedMessage) -> Result<(), NotifyError> {
        let template = template_id(&self.templates, m).ok_or_else(|| {
            NotifyError::Provider(format!(
                "no WeChat template for {:?} (notify.wechat.templates)",
                m.template
            ))
        })?;
        let body = self.body(openid, template, m);
        let mut fresh = false;
        loop {
            let token = self.token(fresh).await?;
            let answer: serde_json::Value = self
                .client
                .post(format!("{}/cgi-bin/message/template/send", self.base_url))
                .query(&[("access_token", token.as_str())])
                .json(&body)
                .send()
                .await
                .map_err(|e| NotifyError::Provider(format!("WeChat unreachable: {e}")))?
                .json()
                .await
                .map_err(|e| NotifyError::Provider(format!("WeChat answer: {e}")))?;
            match answer["errcode"].as_i64().unwrap_or(-1) {
                0 => return Ok(()),
                code if TOKEN_ERRORS.contains(&code) && !fresh => fresh = true,
                code => {
                    return Err(NotifyError::Provider(format!(
                        "WeChat refused the template message: {code} {}",
                        answer["errmsg"].as_str().unwrap_or("")
                    )))
                }
            }
        }
    }
}
