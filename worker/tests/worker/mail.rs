//! Mail through a real SMTP server, Python's aiosmtpd (`smtp_server.py`), in its three forms:
//! plain `smtp://`, STARTTLS required (`smtp://...?tls=required`) and SMTPS (`smtps://`), the
//! TLS ones with a certificate from a throw-away CA that the worker trusts through
//! `notify.smtp_ca_file`. The mail arrives with the right recipient, subject and amount.
//!
//! Needs a Python with `aiosmtpd` and `cryptography` (`WATTPAY_TEST_PYTHON`, as `scripts/test`
//! provides); without them the test says so and skips, except with `CI=true`, where it fails.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use serde_json::Value;
use store::notifier::Notifier;
use tokio::sync::mpsc;
use worker::notify::smtp::SmtpNotifier;

use super::notify::decode_words;

fn python() -> Option<String> {
    let python = std::env::var("WATTPAY_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ok = Command::new(&python)
        .args(["-c", "import aiosmtpd, cryptography"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {python} lacks `aiosmtpd` or `cryptography` (scripts/test installs them)"
    );
    eprintln!("SKIPPED: {python} lacks `aiosmtpd` or `cryptography`; run scripts/test or set WATTPAY_TEST_PYTHON");
    None
}

/// The server process (killed on drop), its port and the mails it received.
struct Server {
    child: Child,
    port: u16,
    mails: mpsc::UnboundedReceiver<Value>,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(python: &str, mode: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/worker/smtp_server.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(mode)
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let port = first.strip_prefix("PORT ").unwrap().parse().unwrap();
        let (tx, mails) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    return;
                }
            }
        });
        Server {
            child,
            port,
            mails,
            dir,
        }
    }

    fn ca(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    async fn next_mail(&mut self) -> Value {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.mails.recv())
            .await
            .expect("a mail within 10 s")
            .unwrap()
    }
}

async fn send(smtp: &SmtpNotifier) -> Result<(), store::notifier::NotifyError> {
    let rendered = worker::notify::render(
        "topup_credited",
        &serde_json::json!({"amount": "50.00", "balance": "87.50", "account_no": "1000000017"}),
    );
    smtp.send_email("tenant@example.com", &rendered.subject, &rendered.text)
        .await
}

fn assert_top_up_mail(mail: &Value, tls: bool) {
    assert_eq!(mail["rcpt"], serde_json::json!(["tenant@example.com"]));
    assert_eq!(mail["tls"], tls, "{mail}");
    let data = mail["data"].as_str().unwrap().replace("\r\n", "\n");
    let unfolded = data.replace("\n ", " ").replace("\n\t", " ");
    let subject = unfolded
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap();
    assert_eq!(
        decode_words(subject).replace(' ', ""),
        "【Wattpay】充值成功/Top-upcredited"
    );
    let body_b64: String = data
        .split("\n\n")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    let body = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(body_b64)
            .unwrap(),
    )
    .unwrap();
    assert!(
        body.contains("已充值 ¥50.00") && body.contains("¥50.00 was credited"),
        "{body}"
    );
}

#[tokio::test]
async fn mail_over_plain_smtp_starttls_and_smtps() {
    let Some(python) = python() else { return };
    let from = "Wattpay <noreply@wattpay.test>";

    let mut plain = Server::start(&python, "plain");
    let smtp = SmtpNotifier::new(
        &format!("smtp://127.0.0.1:{}", plain.port),
        from,
        None,
        None,
    )
    .unwrap();
    send(&smtp).await.unwrap();
    assert_top_up_mail(&plain.next_mail().await, false);

    let mut starttls = Server::start(&python, "starttls");
    let url = format!("smtp://127.0.0.1:{}?tls=required", starttls.port);
    let ca = starttls.ca();
    let smtp = SmtpNotifier::with_ca(&url, from, None, None, Some(&ca)).unwrap();
    send(&smtp).await.unwrap();
    assert_top_up_mail(&starttls.next_mail().await, true);
    // The server insists on STARTTLS: a plain client is refused.
    let plain_client = SmtpNotifier::new(
        &format!("smtp://127.0.0.1:{}", starttls.port),
        from,
        None,
        None,
    )
    .unwrap();
    assert!(send(&plain_client).await.is_err());

    let mut smtps = Server::start(&python, "smtps");
    let url = format!("smtps://127.0.0.1:{}", smtps.port);
    let ca = smtps.ca();
    let smtp = SmtpNotifier::with_ca(&url, from, None, None, Some(&ca)).unwrap();
    send(&smtp).await.unwrap();
    assert_top_up_mail(&smtps.next_mail().await, true);
    // Without trusting the CA, the certificate is refused.
    let untrusting = SmtpNotifier::new(&url, from, None, None).unwrap();
    let err = send(&untrusting).await.unwrap_err().to_string();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(smtps.mails.try_recv().is_err(), "nothing else arrived");
}
