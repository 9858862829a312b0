//! Notifications: templates in both languages, and mail through a real SMTP conversation with
//! a small SMTP server the test runs, deduplicated per key.

use base64::Engine;
use domain::Money;
use store::notifier::Notifier;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use worker::notify::smtp::SmtpNotifier;

use super::helpers::World;

/// One received mail: envelope recipients and the raw message.
#[derive(Debug)]
struct Received {
    rcpt: Vec<String>,
    data: String,
}

/// A minimal SMTP server: accepts every mail and hands it over.
async fn smtp_sink() -> (u16, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut rcpt = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        write
                            .write_all(b"250-sink\r\n250 8BITMIME\r\n")
                            .await
                            .unwrap();
                    } else if upper.starts_with("RCPT TO:") {
                        rcpt.push(
                            line[8..]
                                .trim()
                                .trim_matches(|c| c == '<' || c == '>')
                                .to_owned(),
                        );
                        write.write_all(b"250 OK\r\n").await.unwrap();
                    } else if upper.starts_with("DATA") {
                        write.write_all(b"354 go on\r\n").await.unwrap();
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        tx.send(Received {
                            rcpt: std::mem::take(&mut rcpt),
                            data,
                        })
                        .unwrap();
                        write.write_all(b"250 queued\r\n").await.unwrap();
                    } else if upper.starts_with("QUIT") {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        write.write_all(b"250 OK\r\n").await.unwrap();
                    }
                }
            });
        }
    });
    (port, rx)
}

/// Decodes RFC 2047 `=?utf-8?b?...?=` words of a header value.
fn decode_words(value: &str) -> String {
    value
        .split_whitespace()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            if lower.starts_with("=?utf-8?b?") && w.ends_with("?=") {
                let b = &w[10..w.len() - 2];
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap())
                    .unwrap()
            } else {
                w.to_owned()
            }
        })
        .collect::<String>()
}

#[tokio::test]
async fn a_top_up_mail_arrives_with_recipient_subject_and_amount() {
    let (port, mut inbox) = smtp_sink().await;
    let smtp = SmtpNotifier::new(
        &format!("smtp://127.0.0.1:{port}"),
        "Wattpay <noreply@wattpay.test>",
        None,
        None,
    )
    .unwrap();
    let rendered = worker::notify::render(
        "topup_credited",
        &serde_json::json!({"amount": "50.00", "balance": "87.50", "account_no": "1000000017"}),
    );
    smtp.send_email("tenant@example.com", &rendered.subject, &rendered.text)
        .await
        .unwrap();
    let mail = inbox.recv().await.unwrap();
    assert_eq!(mail.rcpt, ["tenant@example.com"]);
    // Folded headers continue on lines starting with whitespace.
    let unfolded = mail.data.replace("\n ", " ").replace("\n\t", " ");
    let subject = unfolded
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap();
    assert_eq!(
        decode_words(subject).replace(' ', ""),
        "【Wattpay】充值成功/Top-upcredited"
    );
    let body_b64: String = mail
        .data
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
    assert!(body.contains("¥87.50"), "{body}");
}

#[tokio::test]
async fn an_outbox_notification_is_sent_once_per_key() {
    let db = store::testing::TestDb::sqlite().await.unwrap();
    let w = World::new(db, Money::from_fen(1_000)).await;
    for _ in 0..2 {
        store::outbox::enqueue(
            w.db.conn(),
            Some(w.org.org),
            store::outbox::kind::NOTIFY,
            serde_json::json!({"account_id": w.account.id, "template": "daily_low_balance", "dedup_key": "reminder:1"}),
        )
        .await
        .unwrap();
    }
    w.worker
        .process_outbox_once(chrono::Utc::now())
        .await
        .unwrap();
    let texts = w.sms_texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("¥10.00") && texts[0].contains(&w.account.account_no),
        "{texts:?}"
    );
}
