//! Verification against vectors made by independent implementations: WeChat Pay v3
//! notifications built with Python's `cryptography`, Alipay notifications signed by the official
//! `alipay-sdk-python` (UTF-8 and GBK), and every negative case PAYMENTS.md names. Needs a
//! Python with both (`WATTPAY_TEST_PYTHON`, as `scripts/test` provides); without them the test
//! says so and skips, except with `CI=true`, where it fails.

use std::io::Write as _;
use std::process::{Command, Stdio};

use chrono::{Duration, Utc};
use payments::merchant::{
    create_merchant, AlipayConfig, MerchantRequest, PlatformKeyConfig, WechatConfig,
};
use payments::notify::{handle_alipay, handle_wechat, NotifyAnswer};
use payments::wechat::notify::{verify_notification, SignedHeaders, VerifyError};
use payments::wechat::RefundResource;
use serde_json::Value;
use store::payment::NewOrder;

use crate::support::{assert_ledger_balances, balance_fen, clients, World};

fn python() -> Option<String> {
    let python = std::env::var("WATTPAY_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ok = Command::new(&python)
        .args([
            "-c",
            "import cryptography, alipay.aop.api.util.SignatureUtils",
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {python} lacks `cryptography` or `alipay-sdk-python` (scripts/test installs them)"
    );
    eprintln!("SKIPPED: {python} lacks `cryptography` or `alipay-sdk-python`; run scripts/test or set WATTPAY_TEST_PYTHON");
    None
}

fn vectors(python: &str, input: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration/vectors.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "vectors.py failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn headers(v: &Value) -> SignedHeaders {
    SignedHeaders::from_lookup(|name| v["headers"][name].as_str().map(str::to_owned))
}

async fn add_order(w: &World, merchant: &store::merchant::Merchant, out_trade_no: &str, fen: i64) {
    store::payment::create_order(
        w.db.conn(),
        w.a.org,
        NewOrder {
            account_id: w.a.account,
            merchant_id: merchant.id,
            provider: merchant.provider.clone(),
            channel: "jsapi".into(),
            out_trade_no: out_trade_no.into(),
            amount_fen: fen,
            openid: None,
            expires_at: Utc::now() + Duration::minutes(30),
            first_poll_at: Utc::now() + Duration::minutes(3),
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn independent_wechat_and_alipay_vectors_verify_and_the_negatives_do_not() {
    let Some(python) = python() else { return };
    let wechat_orders = [
        ("WPVEC0000000001", 3750),
        ("WPVEC0000000002", 1000),
        ("WPVEC0000000003", 5000),
    ];
    let alipay_orders = [
        ("ALVEC0000000001", "12.30"),
        ("ALVEC0000000002", "45.60"),
        ("ALVEC0000000003", "78.90"),
    ];
    let v = vectors(
        &python,
        &serde_json::json!({"wechat_orders": wechat_orders, "alipay_orders": alipay_orders}),
    );
    let wv = &v["wechat"];
    let av = &v["alipay"];

    let db = store::testing::TestDb::sqlite().await.unwrap();
    let seeded = store::testing::seed_two_orgs(&db).await.unwrap();
    let clients = clients(payments::ProviderConfig::default());
    let s = |k: &str| wv[k].as_str().unwrap().to_owned();
    let wechat = create_merchant(
        &db,
        &clients,
        seeded.a.org,
        MerchantRequest {
            name: "WeChat".into(),
            provider: "wechat".into(),
            wechat: Some(WechatConfig {
                mchid: s("mchid"),
                appid: s("appid"),
                api_v3_key: s("api_v3_key"),
                merchant_serial: s("merchant_serial"),
                merchant_private_key_pem: s("merchant_private_key_pem"),
                // Both kinds during a migration: a platform certificate and a WeChat Pay public key.
                platform_keys: vec![
                    PlatformKeyConfig {
                        serial: None,
                        public_key_pem: s("platform_cert_pem"),
                    },
                    PlatformKeyConfig {
                        serial: Some(s("pub_key_id")),
                        public_key_pem: s("pub_key_pem"),
                    },
                ],
                oauth_secret: None,
            }),
            alipay: None,
            default_for: None,
        },
    )
    .await
    .unwrap();
    let a = |k: &str| av[k].as_str().unwrap().to_owned();
    let alipay = create_merchant(
        &db,
        &clients,
        seeded.a.org,
        MerchantRequest {
            name: "Alipay".into(),
            provider: "alipay".into(),
            wechat: None,
            alipay: Some(AlipayConfig {
                app_id: a("app_id"),
                // Bare base64, as Alipay's key tool prints them.
                app_private_key_pem: a("app_private_key_pem"),
                alipay_public_key_pem: a("alipay_public_key"),
                seller_id: Some(a("seller_id")),
            }),
            default_for: None,
        },
    )
    .await
    .unwrap();
    let w = World {
        db,
        clients,
        a: seeded.a,
        b: seeded.b,
        merchant: wechat.clone(),
    };
    for (no, fen) in wechat_orders {
        add_order(&w, &wechat, no, fen).await;
    }
    for (no, yuan) in alipay_orders {
        let fen = domain::Money::parse_amount(yuan).unwrap().to_fen().unwrap();
        add_order(&w, &alipay, no, fen).await;
    }
    let before = balance_fen(&w, &w.a).await;
    let deliver = |name: &'static str| {
        let vector = wv["vectors"][name].clone();
        let (db, clients, id) = (
            w.db.conn().clone(),
            w.clients.clone(),
            wechat.id.to_string(),
        );
        async move {
            handle_wechat(
                &db,
                &clients,
                "wechat",
                &id,
                &headers(&vector),
                vector["body"].as_str().unwrap().as_bytes(),
                "test",
                Utc::now(),
            )
            .await
        }
    };
    assert_eq!(deliver("valid").await, NotifyAnswer::Ok);
    assert_eq!(deliver("valid").await, NotifyAnswer::Ok, "replay");
    assert_eq!(deliver("valid_pub_key_id").await, NotifyAnswer::Ok);
    assert_eq!(balance_fen(&w, &w.a).await, before + 3750 + 1000);
    for name in [
        "extra_space",
        "wrong_api_v3_key",
        "signtest",
        "stale",
        "unknown_serial",
    ] {
        let answer = deliver(name).await;
        assert!(
            matches!(answer, NotifyAnswer::Fail { status: 401, .. }),
            "{name}: {answer:?}"
        );
    }
    // Signed correctly but for 0.01 instead of 50.00: recorded, not credited, work order.
    assert_eq!(deliver("tampered_amount").await, NotifyAnswer::Ok);
    assert_eq!(balance_fen(&w, &w.a).await, before + 3750 + 1000);
    let work = store::payment::work_orders_of_kind(w.db.conn(), w.a.org, "payment")
        .await
        .unwrap();
    assert_eq!(work.len(), 1);
    assert!(work[0].title.contains("amount_mismatch"));

    // Each negative fails for its own reason, not by accident.
    let keys = w.clients.keys(&wechat).unwrap();
    let keys = keys.wechat().unwrap();
    let check = |name: &str| {
        let vector = &wv["vectors"][name];
        verify_notification(
            keys,
            &headers(vector),
            vector["body"].as_str().unwrap().as_bytes(),
            Utc::now(),
        )
    };
    assert_eq!(check("extra_space").unwrap_err(), VerifyError::BadSignature);
    assert!(matches!(
        check("wrong_api_v3_key").unwrap_err(),
        VerifyError::Decrypt(_)
    ));
    assert_eq!(check("signtest").unwrap_err(), VerifyError::SignTest);
    assert_eq!(check("stale").unwrap_err(), VerifyError::Stale);
    assert!(matches!(
        check("unknown_serial").unwrap_err(),
        VerifyError::UnknownSerial(_)
    ));
    let refund: RefundResource = serde_json::from_value(check("refund").unwrap().resource).unwrap();
    assert_eq!(
        (refund.refund_status.as_str(), refund.amount.refund),
        ("SUCCESS", 3750)
    );

    let alipay_deliver = |name: &'static str| {
        let body = av["vectors"][name].as_str().unwrap().to_owned();
        let (db, clients, id) = (
            w.db.conn().clone(),
            w.clients.clone(),
            alipay.id.to_string(),
        );
        async move { handle_alipay(&db, &clients, &id, body.as_bytes(), "test", Utc::now()).await }
    };
    let mid = balance_fen(&w, &w.a).await;
    assert_eq!(alipay_deliver("utf8").await, NotifyAnswer::Ok);
    assert_eq!(
        alipay_deliver("gbk").await,
        NotifyAnswer::Ok,
        "GBK-encoded notification"
    );
    assert_eq!(alipay_deliver("gbk").await, NotifyAnswer::Ok, "replay");
    assert!(matches!(
        alipay_deliver("tampered_amount").await,
        NotifyAnswer::Fail { status: 400, .. }
    ));
    assert_eq!(
        alipay_deliver("wait_buyer_pay").await,
        NotifyAnswer::Ok,
        "recorded, nothing to credit"
    );
    assert_eq!(balance_fen(&w, &w.a).await, mid + 1230 + 4560);
    assert_eq!(balance_fen(&w, &w.b).await, 5000);
    assert_ledger_balances(&w).await;
}
