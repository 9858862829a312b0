//! SMS through a generic HTTP webhook: `POST {url}` with `{"to", "text"}`; any 2xx is sent.
//! (Aliyun and Tencent Cloud SMS have their own signed clients: [`super::aliyun`], [`super::tencent`].)

use async_trait::async_trait;
use store::notifier::{Notifier, NotifyError};

pub struct WebhookSmsNotifier {
    client: reqwest::Client,
    url: String,
}

impl WebhookSmsNotifier {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(WebhookSmsNotifier {
            client,
            url: url.to_owned(),
        })
    }
}

#[async_trait]
impl Notifier for WebhookSmsNotifier {
    async fn send_sms(&self, to: &str, text: &str) -> Result<(), NotifyError> {
        let res = self
            .client
            .post(&self.url)
            .json(&serde_json::json!({ "to": to, "text": text }))
            .send()
            .await
            .map_err(|e| NotifyError::Provider(e.to_string()))?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(NotifyError::Provider(format!(
                "SMS webhook answered {}",
                res.status()
            )))
        }
    }

    async fn send_email(&self, _to: &str, _subject: &str, _body: &str) -> Result<(), NotifyError> {
        Err(NotifyError::Provider(
            "the SMS webhook does not send mail".into(),
        ))
    }
}
