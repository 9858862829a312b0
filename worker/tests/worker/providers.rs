//! The real notification providers against a local fake of their APIs
//! (`fake_providers.py`), which checks every signature with Python's own hmac/hashlib: Aliyun
//! SMS (RPC signature, HMAC-SHA1), Tencent Cloud SMS (TC3-HMAC-SHA256) and WeChat template
//! messages (cached access token, fetched again when expired). Provider refusals are recorded
//! and retried, never crash the worker.
//!
//! Needs `python3` (only its standard library; `WATTPAY_TEST_PYTHON` names another one).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use domain::Money;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use store::ledger::NewEntry;
use store::{LedgerKind, TransactionTrait};
use worker::settings::{AliyunSmsSettings, TencentSmsSettings, WechatSettings};

use super::helpers::{settings, t0, World};

const PHONE: &str = "13800000000";

/// The fake provider process; killed on drop.
struct Fake {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Fake {
    fn start() -> Fake {
        let python = std::env::var("WATTPAY_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/worker/fake_providers.py"
        );
        let mut child = Command::new(python)
            .arg(script)
            .env("ALIYUN_KEY_ID", "LTAI-test")
            .env("ALIYUN_SECRET", "aliyun-secret")
            .env("TENCENT_SECRET_ID", "AKID-test")
            .env("TENCENT_SECRET_KEY", "tencent-secret")
            .env("WECHAT_APPID", "wx-test")
            .env("WECHAT_SECRET", "wechat-secret")
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the fake providers");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("PORT ").unwrap().to_owned();
        Fake {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    async fn received(&self) -> (Vec<Value>, u64) {
        let v: Value = self
            .http
            .get(format!("{}/_received", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            v["received"].as_array().unwrap().clone(),
            v["tokens"].as_u64().unwrap(),
        )
    }

    async fn script(&self, what: Value) {
        self.http
            .post(format!("{}/_fail", self.base))
            .json(&what)
            .send()
            .await
            .unwrap();
    }
}

fn templates(pairs: &[(&str, &str)]) -> worker::settings::TemplateIds {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A payment of `fen` credited the way `payments` records it: entry plus outbox row.
async fn pay(w: &World, order: &str, fen: i64) {
    let txn = w.db.begin().await.unwrap();
    store::ledger::post_in_txn(
        &txn,
        w.org.org,
        NewEntry {
            account_id: w.account.id,
            kind: LedgerKind::Topup,
            amount: Money::from_fen(fen),
            idempotency_key: format!("pay:{order}"),
            corrects: None,
            memo: None,
            created_by: None,
        },
    )
    .await
    .unwrap();
    store::outbox::enqueue(
        &txn,
        Some(w.org.org),
        store::outbox::kind::BALANCE_CHANGED,
        serde_json::json!({"account_id": w.account.id, "cause": "topup", "order_id": order,
            "amount": Money::from_fen(fen).to_string()}),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
}

async fn drain(w: &World) {
    while w.worker.process_outbox_once(t0()).await.unwrap() > 0 {}
}

/// Makes every waiting outbox message due now (the time its retry would have waited).
async fn make_due(w: &World) {
    store::entity::outbox::Entity::update_many()
        .col_expr(
            store::entity::outbox::Column::AvailableAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(store::entity::outbox::Column::ProcessedAt.is_null())
        .exec(w.db.conn())
        .await
        .unwrap();
}

#[tokio::test]
async fn aliyun_sms_is_signed_and_a_refusal_is_recorded_and_retried() {
    let fake = Fake::start();
    let db = store::testing::TestDb::sqlite().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.notify.aliyun_sms = Some(AliyunSmsSettings {
        access_key_id: "LTAI-test".into(),
        access_key_secret: Some("aliyun-secret".to_owned().into()),
        sign_name: "瓦特付".into(),
        base_url: Some(format!("{}/aliyun", fake.base)),
        templates: templates(&[("topup_credited", "SMS_100"), ("low_balance", "SMS_101")]),
    });
    let w = World::with_notifier(db, Money::from_fen(3_000), s, dir, true).await;
    // The provider refuses the first attempt (flow control).
    fake.script(serde_json::json!({"aliyun": 1})).await;
    pay(&w, "order-1", 5_000).await;
    drain(&w).await;
    let log = store::notifier_log::find(w.db.conn(), w.org.org, "topup:order-1:sms")
        .await
        .unwrap()
        .expect("the attempt is recorded");
    assert_eq!(log.status, "failed");
    assert!(
        log.error
            .as_deref()
            .is_some_and(|e| e.contains("isv.BUSINESS_LIMIT_CONTROL")),
        "{log:?}"
    );
    // The retry, once its back-off has passed, goes through; once.
    make_due(&w).await;
    drain(&w).await;
    make_due(&w).await;
    drain(&w).await;
    let log = store::notifier_log::find(w.db.conn(), w.org.org, "topup:order-1:sms")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((log.status.as_str(), log.error), ("sent", None));

    let (received, _) = fake.received().await;
    assert_eq!(received.len(), 2, "{received:?}");
    for r in &received {
        assert_eq!(r["signature_ok"], true, "{r}");
        let p = &r["params"];
        assert_eq!(p["PhoneNumbers"], PHONE);
        assert_eq!(p["TemplateCode"], "SMS_100");
        assert_eq!(p["SignName"], "瓦特付");
        let param: Value = serde_json::from_str(p["TemplateParam"].as_str().unwrap()).unwrap();
        assert_eq!(param["amount"], "50.00");
        assert_eq!(param["balance"], "80.00");
        assert_eq!(param["account_no"], w.account.account_no.as_str());
    }
    assert_eq!(received[0]["failed"], true);
    assert_eq!(received[1]["failed"], false);
}

#[tokio::test]
async fn tencent_sms_is_signed_with_tc3_and_carries_the_amount() {
    let fake = Fake::start();
    let db = store::testing::TestDb::sqlite().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.notify.tencent_sms = Some(TencentSmsSettings {
        secret_id: "AKID-test".into(),
        secret_key: Some("tencent-secret".to_owned().into()),
        sdk_app_id: "1400000001".into(),
        sign_name: "瓦特付".into(),
        region: None,
        base_url: Some(format!("{}/tencent", fake.base)),
        templates: templates(&[("topup_credited", "2001"), ("topup_credited.en", "2002")]),
    });
    let w = World::with_notifier(db, Money::from_fen(1_234), s, dir, true).await;
    pay(&w, "order-7", 2_000).await;
    drain(&w).await;
    // A tenant who chose English gets the English template.
    store::tenant_preference::set_delivery(
        w.db.conn(),
        PHONE,
        &store::tenant_preference::Delivery {
            language: Some("en".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    fake.script(serde_json::json!({"tencent": 1})).await;
    pay(&w, "order-8", 1_000).await;
    drain(&w).await;
    make_due(&w).await;
    drain(&w).await;

    let (received, _) = fake.received().await;
    assert_eq!(received.len(), 3, "{received:?}");
    for r in &received {
        assert_eq!(r["signature_ok"], true, "{r}");
        assert_eq!(
            r["body"]["PhoneNumberSet"],
            serde_json::json!(["+8613800000000"])
        );
        assert_eq!(r["body"]["SmsSdkAppId"], "1400000001");
    }
    let b = &received[0]["body"];
    assert_eq!(b["TemplateId"], "2001");
    assert_eq!(
        b["TemplateParamSet"],
        serde_json::json!([w.account.account_no, "20.00", "32.34"])
    );
    assert_eq!(received[1]["failed"], true);
    assert_eq!(received[2]["body"]["TemplateId"], "2002");
    assert_eq!(
        received[2]["body"]["TemplateParamSet"],
        serde_json::json!([w.account.account_no, "10.00", "42.34"])
    );
}

#[tokio::test]
async fn wechat_template_messages_reuse_the_token_until_it_expires() {
    let fake = Fake::start();
    let db = store::testing::TestDb::sqlite().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.public_base_url = "https://pay.example.com".into();
    s.notify.wechat = Some(WechatSettings {
        appid: "wx-test".into(),
        secret: Some("wechat-secret".to_owned().into()),
        base_url: Some(format!("{}/wechat", fake.base)),
        templates: templates(&[("topup_credited", "TPL-PAID"), ("tripped", "TPL-CUT")]),
        fields: [("amount".to_owned(), "amount3".to_owned())]
            .into_iter()
            .collect(),
    });
    let w = World::with_notifier(db, Money::from_fen(1_000), s, dir, true).await;
    store::tenant_preference::bind_wechat(w.db.conn(), PHONE, "o-zhang-san")
        .await
        .unwrap();
    pay(&w, "order-1", 5_000).await;
    drain(&w).await;
    pay(&w, "order-2", 1_000).await;
    drain(&w).await;
    let (received, tokens) = fake.received().await;
    assert_eq!(tokens, 1, "the token is cached");
    assert_eq!(received.len(), 2, "{received:?}");
    let b = &received[0]["body"];
    assert_eq!(b["touser"], "o-zhang-san");
    assert_eq!(b["template_id"], "TPL-PAID");
    assert_eq!(
        b["url"],
        format!("https://pay.example.com/t/{}", w.account.account_no)
    );
    assert_eq!(
        b["data"]["keyword1"]["value"],
        w.account.account_no.as_str()
    );
    assert_eq!(b["data"]["amount3"]["value"], "¥50.00");
    assert_eq!(b["data"]["keyword2"]["value"], "¥60.00");
    assert!(b["data"]["first"]["value"]
        .as_str()
        .unwrap()
        .contains("充值成功"));

    // WeChat expires the token early: the next send fetches a new one and goes through.
    fake.script(serde_json::json!({"wechat_expire_token": true}))
        .await;
    pay(&w, "order-3", 1_000).await;
    drain(&w).await;
    let (received, tokens) = fake.received().await;
    assert_eq!(tokens, 2);
    assert_eq!(received.len(), 4, "{received:?}");
    assert_eq!(received[2]["token_ok"], false);
    assert_eq!(received[3]["token_ok"], true);
    assert_eq!(received[3]["body"]["data"]["amount3"]["value"], "¥10.00");
    let sms = w.sms_texts();
    assert!(
        sms.is_empty(),
        "a bound tenant gets WeChat, not SMS: {sms:?}"
    );
}
