//! Notifications: templates in both languages, and mail through a real SMTP conversation with
//! a small SMTP server the test runs, deduplicated per key; the tenant's kinds, channels and
//! language; quiet hours; the daily low-balance reminder.

use base64::Engine;
use domain::Money;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use store::notifier::Notifier;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use worker::notify::smtp::SmtpNotifier;

use chrono::Duration;
use store::tenant_preference::{Delivery, Preferences};

use super::helpers::{t0, World};

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
pub fn decode_words(value: &str) -> String {
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
    w.worker.process_outbox_once(t0()).await.unwrap();
    let texts = w.sms_texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("¥10.00") && texts[0].contains(&w.account.account_no),
        "{texts:?}"
    );
}

const PHONE: &str = "13800000000";

async fn notify(w: &World, template: &str, key: &str) {
    store::outbox::enqueue(
        w.db.conn(),
        Some(w.org.org),
        store::outbox::kind::NOTIFY,
        serde_json::json!({"account_id": w.account.id, "template": template, "dedup_key": key}),
    )
    .await
    .unwrap();
}

fn files(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn the_tenant_chooses_kinds_channels_and_language() {
    let db = store::testing::TestDb::sqlite().await.unwrap();
    let w = World::new(db, Money::from_fen(1_000)).await;
    let c = w.db.conn();
    store::tenant_preference::set(
        c,
        PHONE,
        Preferences {
            low_balance: false,
            ..Preferences::default()
        },
    )
    .await
    .unwrap();
    store::tenant_preference::set_delivery(
        c,
        PHONE,
        &Delivery {
            language: Some("en".into()),
            email: Some("zhang@example.com".into()),
            wechat_openid: None,
            channels: [(
                "power_events".to_owned(),
                vec!["email".to_owned(), "sms".to_owned()],
            )]
            .into_iter()
            .collect(),
        },
    )
    .await
    .unwrap();
    // Setting the channels kept the kinds.
    assert!(
        !store::tenant_preference::get(c, PHONE)
            .await
            .unwrap()
            .low_balance
    );
    notify(&w, "low_balance", "k1").await;
    notify(&w, "tripped", "k2").await;
    w.worker.process_outbox_once(t0()).await.unwrap();
    let sms = w.sms_texts();
    assert_eq!(
        sms.len(),
        1,
        "low balance is off; the cut goes by SMS: {sms:?}"
    );
    assert!(sms[0].starts_with("[Wattpay] Power to account") && !sms[0].contains("停电"));
    let mail = files(&w.outbox.mail_dir());
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["to"], "zhang@example.com");
    assert_eq!(mail[0]["subject"], "[Wattpay] Power cut");
    // Receipts: no choice made, no WeChat bound: SMS plus the email address.
    notify(&w, "topup_credited", "k3").await;
    w.worker.process_outbox_once(t0()).await.unwrap();
    assert_eq!(w.sms_texts().len(), 2);
    assert_eq!(files(&w.outbox.mail_dir()).len(), 2);
    // Bound to WeChat: it replaces SMS by default.
    store::tenant_preference::bind_wechat(c, PHONE, "o-1")
        .await
        .unwrap();
    notify(&w, "topup_credited", "k4").await;
    w.worker.process_outbox_once(t0()).await.unwrap();
    assert_eq!(w.sms_texts().len(), 2);
    let wechat = files(&w.outbox.wechat_dir());
    assert_eq!(wechat.len(), 1);
    assert_eq!(wechat[0]["openid"], "o-1");
    assert_eq!(wechat[0]["message"]["language"], "en");
}

#[tokio::test]
async fn quiet_hours_hold_warnings_but_not_a_power_cut() {
    let db = store::testing::TestDb::sqlite().await.unwrap();
    let w = World::new(db, Money::from_fen(1_000)).await;
    // 15:00 UTC is 23:00 in Shanghai, inside the default 22:00-08:00.
    let night = t0() + Duration::hours(13);
    notify(&w, "low_balance", "warn").await;
    notify(&w, "tripped", "cut").await;
    w.worker.process_outbox_once(night).await.unwrap();
    let sms = w.sms_texts();
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert!(sms[0].contains("已停电"), "{sms:?}");
    // The warning waits until 08:00 local (00:00 UTC), then goes.
    let waiting = store::entity::outbox::Entity::find()
        .filter(store::entity::outbox::Column::ProcessedAt.is_null())
        .all(w.db.conn())
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(
        waiting[0].available_at,
        (t0() + Duration::days(1))
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    );
    store::entity::outbox::Entity::update_many()
        .col_expr(
            store::entity::outbox::Column::AvailableAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now()),
        )
        .exec(w.db.conn())
        .await
        .unwrap();
    w.worker
        .process_outbox_once(t0() + Duration::hours(22))
        .await
        .unwrap();
    let sms = w.sms_texts();
    assert_eq!(sms.len(), 2, "{sms:?}");
    assert!(sms[1].contains("已低于提醒值"), "{sms:?}");
}

#[tokio::test]
async fn the_daily_reminder_goes_once_per_local_day_with_two_workers() {
    for db in store::testing::backends().await {
        let backend = db.backend();
        let w = World::new(db, Money::from_fen(1_500)).await;
        let dir = tempfile::tempdir().unwrap();
        let other = worker::Worker::new(
            w.db.conn().clone(),
            super::helpers::settings(dir.path()),
            store::live::LiveCache::in_process(),
            w.published.clone(),
            std::sync::Arc::new(w.outbox.clone()),
        );
        // 09:00 in Shanghai: before the reminder time.
        let early = t0() - Duration::hours(1);
        assert_eq!(w.worker.daily_reminders(early).await.unwrap(), 0);
        // 10:00: the World's account (¥15) and the seed's (¥10) are below the ¥20 alarm.
        let first = w.worker.daily_reminders(t0()).await.unwrap();
        let second = other.daily_reminders(t0()).await.unwrap();
        let again = w
            .worker
            .daily_reminders(t0() + Duration::hours(3))
            .await
            .unwrap();
        assert_eq!((first, second, again), (2, 0, 0), "{backend}");
        while w.worker.process_outbox_once(t0()).await.unwrap() > 0 {}
        let mine: Vec<String> = w
            .sms_texts()
            .into_iter()
            .filter(|t| t.contains(&w.account.account_no))
            .collect();
        assert_eq!(mine.len(), 1, "{backend}: {mine:?}");
        assert!(mine[0].contains("余额仅剩 ¥15.00"), "{mine:?}");
        // A run repeated after a crash (its lease record lost) still sends nothing twice.
        store::entity::job_lease::Entity::delete_many()
            .exec(w.db.conn())
            .await
            .unwrap();
        assert_eq!(other.daily_reminders(t0()).await.unwrap(), 2);
        while w.worker.process_outbox_once(t0()).await.unwrap() > 0 {}
        assert_eq!(w.sms_texts().len(), 2, "{backend}");
        // The next local day reminds again.
        let tomorrow = t0() + Duration::days(1);
        assert_eq!(other.daily_reminders(tomorrow).await.unwrap(), 2);
        while w.worker.process_outbox_once(tomorrow).await.unwrap() > 0 {}
        assert_eq!(w.sms_texts().len(), 4, "{backend}");
    }
}

#[tokio::test]
async fn a_send_abandoned_by_a_dead_worker_goes_out_later_and_only_then() {
    for db in store::testing::backends().await {
        let backend = db.backend();
        let w = World::new(db, Money::from_fen(1_000)).await;
        // Another worker claimed the SMS and is sending it right now: not sent twice.
        assert!(store::notifier_log::claim(
            w.db.conn(),
            w.org.org,
            "k:sms",
            Some(w.account.id),
            "tripped",
            "sms",
            PHONE
        )
        .await
        .unwrap());
        notify(&w, "tripped", "k").await;
        w.worker.process_outbox_once(t0()).await.unwrap();
        assert!(w.sms_texts().is_empty(), "{backend}");
        // It died mid-send (its claim is ten minutes old): the message goes after all.
        store::entity::notification::Entity::update_many()
            .col_expr(
                store::entity::notification::Column::CreatedAt,
                sea_orm::sea_query::Expr::value(chrono::Utc::now() - Duration::minutes(10)),
            )
            .exec(w.db.conn())
            .await
            .unwrap();
        notify(&w, "tripped", "k").await;
        w.worker.process_outbox_once(t0()).await.unwrap();
        assert_eq!(w.sms_texts().len(), 1, "{backend}");
        // Sent is sent: the same key again sends nothing.
        notify(&w, "tripped", "k").await;
        w.worker.process_outbox_once(t0()).await.unwrap();
        assert_eq!(w.sms_texts().len(), 1, "{backend}");
        // A provider refusal is recorded, and its retry may claim the key again.
        let c = w.db.conn();
        let claim =
            || store::notifier_log::claim(c, w.org.org, "f:sms", None, "tripped", "sms", PHONE);
        assert!(claim().await.unwrap(), "{backend}");
        store::notifier_log::finish(c, "f:sms", Some("isv.BUSINESS_LIMIT_CONTROL"))
            .await
            .unwrap();
        let log = store::notifier_log::find(c, w.org.org, "f:sms")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(log.status, "failed");
        assert!(claim().await.unwrap(), "{backend}");
        assert!(!claim().await.unwrap(), "{backend}: being sent");
        store::notifier_log::finish(c, "f:sms", None).await.unwrap();
        assert!(!claim().await.unwrap(), "{backend}: sent");
        let log = store::notifier_log::find(w.db.conn(), w.org.org, "k:sms")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(log.status, "sent");
    }
}
