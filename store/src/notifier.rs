//! How the system reaches people: SMS, email and WeChat official-account template messages.
//! The embedded default, [`FileOutboxNotifier`], writes each message as a JSON file so demos and
//! tests can read what would have been sent; the worker adds real providers behind the same
//! trait.
//!
//! Templated providers (Aliyun and Tencent Cloud SMS, WeChat template messages) do not send
//! free text: they send a template registered with the provider plus its parameters. A
//! [`TemplatedMessage`] carries both, so each channel takes what it needs; the default methods
//! fall back to the rendered text.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("could not write the message: {0}")]
    Io(#[from] std::io::Error),
    #[error("could not encode the message: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("provider refused the message: {0}")]
    Provider(String),
}

/// A notification rendered for one person: the event (`low_balance`, `topup_credited`, ...),
/// its language, its parameters in template order and the rendered subject and text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplatedMessage {
    /// The event, which names the provider-side template.
    pub template: String,
    /// `zh`, `en` or `zh-en` (both, Chinese first).
    pub language: String,
    /// Template parameters by name, in the order positional templates (Tencent) take them.
    pub params: Vec<(String, String)>,
    pub subject: String,
    pub text: String,
    /// Where a tap on the message leads (the account's door page).
    pub url: Option<String>,
}

#[async_trait]
pub trait Notifier: Send + Sync {
    async fn send_sms(&self, to: &str, text: &str) -> Result<(), NotifyError>;
    async fn send_email(&self, to: &str, subject: &str, body: &str) -> Result<(), NotifyError>;

    /// An SMS from a provider-side template; by default the rendered text.
    async fn send_templated_sms(
        &self,
        to: &str,
        message: &TemplatedMessage,
    ) -> Result<(), NotifyError> {
        self.send_sms(to, &message.text).await
    }

    /// A WeChat official-account template message to `openid`.
    async fn send_wechat(
        &self,
        openid: &str,
        message: &TemplatedMessage,
    ) -> Result<(), NotifyError> {
        let _ = (openid, message);
        Err(NotifyError::Provider(
            "WeChat template messages are not configured".into(),
        ))
    }
}

/// An SMS as written by [`FileOutboxNotifier`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsFile {
    pub to: String,
    pub text: String,
    pub created_at: chrono::DateTime<Utc>,
}

/// An email as written by [`FileOutboxNotifier`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailFile {
    pub to: String,
    pub subject: String,
    pub body: String,
    pub created_at: chrono::DateTime<Utc>,
}

/// A WeChat template message as written by [`FileOutboxNotifier`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WechatFile {
    pub openid: String,
    pub message: TemplatedMessage,
    pub created_at: chrono::DateTime<Utc>,
}

/// Writes each message as `<dir>/sms/<uuid-v7>.json`, `<dir>/mail/<uuid-v7>.json` or
/// `<dir>/wechat/<uuid-v7>.json`. File names are unique and sort in sending order.
#[derive(Clone, Debug)]
pub struct FileOutboxNotifier {
    dir: PathBuf,
}

impl FileOutboxNotifier {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileOutboxNotifier { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn sms_dir(&self) -> PathBuf {
        self.dir.join("sms")
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.dir.join("mail")
    }

    pub fn wechat_dir(&self) -> PathBuf {
        self.dir.join("wechat")
    }

    async fn write(&self, folder: PathBuf, body: Vec<u8>) -> Result<(), NotifyError> {
        tokio::fs::create_dir_all(&folder).await?;
        let name = format!("{}.json", Uuid::now_v7());
        // Write then rename, so a reader never sees half a message.
        let tmp = folder.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, body).await?;
        tokio::fs::rename(&tmp, folder.join(name)).await?;
        Ok(())
    }
}

#[async_trait]
impl Notifier for FileOutboxNotifier {
    async fn send_sms(&self, to: &str, text: &str) -> Result<(), NotifyError> {
        let msg = SmsFile {
            to: to.to_owned(),
            text: text.to_owned(),
            created_at: Utc::now(),
        };
        self.write(self.sms_dir(), serde_json::to_vec_pretty(&msg)?)
            .await
    }

    async fn send_email(&self, to: &str, subject: &str, body: &str) -> Result<(), NotifyError> {
        let msg = MailFile {
            to: to.to_owned(),
            subject: subject.to_owned(),
            body: body.to_owned(),
            created_at: Utc::now(),
        };
        self.write(self.mail_dir(), serde_json::to_vec_pretty(&msg)?)
            .await
    }

    async fn send_wechat(
        &self,
        openid: &str,
        message: &TemplatedMessage,
    ) -> Result<(), NotifyError> {
        let msg = WechatFile {
            openid: openid.to_owned(),
            message: message.clone(),
            created_at: Utc::now(),
        };
        self.write(self.wechat_dir(), serde_json::to_vec_pretty(&msg)?)
            .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_message_is_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let n = FileOutboxNotifier::new(dir.path());
        n.send_sms("13800000000", "余额不足").await.unwrap();
        n.send_sms("13800000000", "again").await.unwrap();
        n.send_email("a@b.c", "Receipt", "Paid ¥50.00")
            .await
            .unwrap();
        let sms: Vec<_> = std::fs::read_dir(n.sms_dir()).unwrap().collect();
        assert_eq!(sms.len(), 2);
        let mail: Vec<_> = std::fs::read_dir(n.mail_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(mail.len(), 1);
        let parsed: MailFile = serde_json::from_slice(&std::fs::read(&mail[0]).unwrap()).unwrap();
        assert_eq!(parsed.subject, "Receipt");
        assert_eq!(parsed.body, "Paid ¥50.00");
    }
}
