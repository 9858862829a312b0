//! Mail through SMTP with lettre: `smtp://host:port` is plain SMTP (a trusted relay),
//! `smtp://host:port?tls=required` upgrades with STARTTLS or fails (default port 587), and
//! `smtps://host:port` speaks TLS from the first byte (default port 465). TLS is rustls with
//! the public (webpki) roots plus, optionally, a private CA's PEM. Credentials come from the
//! URL's user info or from the settings.

use std::path::Path;

use async_trait::async_trait;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use store::notifier::{Notifier, NotifyError};

pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// How the connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    Plain,
    /// STARTTLS, and fail without it.
    StartTls,
    /// TLS from the start (SMTPS).
    Wrapper,
}

/// What an SMTP URL says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl SmtpUrl {
    pub fn parse(url: &str) -> anyhow::Result<SmtpUrl> {
        let u = reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("SMTP URL {url:?}: {e}"))?;
        let tls = u
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let (security, default_port) = match (u.scheme(), tls.as_deref()) {
            ("smtp", None | Some("none")) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::StartTls, 587),
            ("smtps", None) => (Security::Wrapper, 465),
            (scheme, tls) => anyhow::bail!(
                "SMTP URL must be smtp://host[:port], smtp://host[:port]?tls=required or smtps://host[:port] (got scheme {scheme:?}, tls {tls:?})"
            ),
        };
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| anyhow::anyhow!("SMTP URL {url:?} has no host"))?
            .to_owned();
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| anyhow::anyhow!("SMTP URL: bad percent-encoding"))
        };
        Ok(SmtpUrl {
            host,
            port: u.port().unwrap_or(default_port),
            security,
            username: (!u.username().is_empty())
                .then(|| decode(u.username()))
                .transpose()?,
            password: u.password().map(decode).transpose()?,
        })
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl SmtpNotifier {
    /// `url` as [`SmtpUrl`]; `username`/`password` when the URL has none; `ca_file` adds a
    /// trusted root.
    pub fn new(
        url: &str,
        from: &str,
        username: Option<String>,
        password: Option<SecretString>,
    ) -> anyhow::Result<Self> {
        Self::with_ca(url, from, username, password, None)
    }

    pub fn with_ca(
        url: &str,
        from: &str,
        username: Option<String>,
        password: Option<SecretString>,
        ca_file: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let u = SmtpUrl::parse(url)?;
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(u.host.clone()).port(u.port);
        if u.security != Security::Plain {
            let mut params = TlsParameters::builder(u.host.clone());
            if let Some(path) = ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
                params = params.add_root_certificate(Certificate::from_pem(&pem)?);
            }
            let params = params.build_rustls()?;
            builder = builder.tls(match u.security {
                Security::Wrapper => Tls::Wrapper(params),
                _ => Tls::Required(params),
            });
        }
        let user = u.username.or(username);
        let password = u
            .password
            .or_else(|| password.map(|p| p.expose_secret().to_owned()));
        if let (Some(user), Some(password)) = (user, password) {
            builder = builder.credentials(Credentials::new(user, password));
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_forms() {
        let plain = SmtpUrl::parse("smtp://mail.local").unwrap();
        assert_eq!((plain.port, plain.security), (25, Security::Plain));
        let starttls = SmtpUrl::parse("smtp://mail.example.com?tls=required").unwrap();
        assert_eq!(
            (starttls.port, starttls.security),
            (587, Security::StartTls)
        );
        let smtps = SmtpUrl::parse("smtps://bot%40x.cn:p%26ss@smtp.example.com:2465").unwrap();
        assert_eq!((smtps.port, smtps.security), (2465, Security::Wrapper));
        assert_eq!(smtps.username.as_deref(), Some("bot@x.cn"));
        assert_eq!(smtps.password.as_deref(), Some("p&ss"));
        assert!(SmtpUrl::parse("http://mail").is_err());
        assert!(SmtpUrl::parse("smtp://mail?tls=sometimes").is_err());
        // Building a TLS transport needs no network.
        assert!(SmtpNotifier::new("smtps://smtp.example.com", "a@b.c", None, None).is_ok());
    }
}
