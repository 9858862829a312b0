//! Mail through SMTP with lettre (plain SMTP with optional AUTH; TLS is for a later change).

use async_trait::async_trait;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use store::notifier::{Notifier, NotifyError};

pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpNotifier {
    /// `url` is `smtp://host:port`.
    pub fn new(
        url: &str,
        from: &str,
        username: Option<String>,
        password: Option<SecretString>,
    ) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("smtp://")
            .ok_or_else(|| anyhow::anyhow!("SMTP URL must start with smtp:// (got {url})"))?;
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), port.parse()?),
            None => (rest.to_owned(), 25),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port);
        if let (Some(user), Some(password)) = (username, password) {
            builder =
                builder.credentials(Credentials::new(user, password.expose_secret().to_owned()));
        }
        Ok(SmtpNotifier {
            transport: builder.build(),
            from: from.parse()?,
        })
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn send_sms(&self, _to: &str, _text: &str) -> Result<(), NotifyError> {
        Err(NotifyError::Provider("SMTP sends mail, not SMS".into()))
    }

    async fn send_email(&self, to: &str, subject: &str, body: &str) -> Result<(), NotifyError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| NotifyError::Provider(format!("recipient {to}: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    // One fixed encoding: every mail client reads it, and tests can decode it.
                    .header(ContentTransferEncoding::Base64)
                    .body(body.to_owned()),
            )
            .map_err(|e| NotifyError::Provider(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map_err(|e| NotifyError::Provider(e.to_string()))?;
        Ok(())
    }
}
