//! Real provider order creation and polling against the local fakes, which verify our request
//! signatures; the poll-versus-notification race credits once.

use std::sync::Arc;

use chrono::{Duration, Utc};
use payments::key::{private_key_pem, public_key_pem, verify_sha256};
use payments::merchant::{
    create_merchant, AlipayConfig, MerchantRequest, PlatformKeyConfig, WechatConfig,
};
use payments::notify::{handle_wechat, NotifyAnswer};
use payments::order::{create_order, OrderCreated, OrderRequest};
use payments::{poll_due_orders, ProviderConfig};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::RsaPublicKey;
use store::merchant::Merchant;
use store::payment::PaymentStatus;
use store::testing::TestDb;

use crate::fake::{self, Fake, PLATFORM_SERIAL};
use crate::support::{account_no, assert_ledger_balances, balance_fen, clients, World};

pub struct Providers {
    pub w: World,
    pub alipay: Merchant,
    pub fake: Fake,
}

pub async fn providers(db: TestDb) -> Providers {
    let fake = fake::start().await;
    let keys = fake::keys().await;
    let seeded = store::testing::seed_two_orgs(&db).await.unwrap();
    let clients = clients(ProviderConfig {
        wechat_api_base: fake.base.clone(),
        alipay_gateway: format!("{}/gateway.do", fake.base),
        ..ProviderConfig::default()
    });
    let wechat = create_merchant(
        &db,
        &clients,
        seeded.a.org,
        MerchantRequest {
            name: "WeChat".into(),
            provider: "wechat".into(),
            wechat: Some(WechatConfig {
                mchid: "1900000109".into(),
                appid: "wxd678efh567hg6787".into(),
                api_v3_key: "0123456789abcdef0123456789abcdef".into(),
                merchant_serial: "3775B6A45ACD588826D15E583A95F5DD".into(),
                merchant_private_key_pem: private_key_pem(&keys.merchant).unwrap(),
                platform_keys: vec![PlatformKeyConfig {
                    serial: Some(PLATFORM_SERIAL.into()),
                    public_key_pem: public_key_pem(&RsaPublicKey::from(&keys.platform)).unwrap(),
                }],
                oauth_secret: None,
            }),
            alipay: None,
            default_for: Some(serde_json::json!("organization")),
        },
    )
    .await
    .unwrap();
    let alipay = create_merchant(
        &db,
        &clients,
        seeded.a.org,
        MerchantRequest {
            name: "Alipay".into(),
            provider: "alipay".into(),
            wechat: None,
            alipay: Some(AlipayConfig {
                app_id: "2021000117600000".into(),
                // PKCS#1 PEM this time.
                app_private_key_pem: keys
                    .app
                    .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                    .unwrap()
                    .to_string(),
                alipay_public_key_pem: public_key_pem(&RsaPublicKey::from(&keys.alipay)).unwrap(),
                seller_id: None,
            }),
            default_for: None,
        },
    )
    .await
    .unwrap();
    Providers {
        w: World {
            db,
            clients,
            a: seeded.a,
            b: seeded.b,
            merchant: wechat,
        },
        alipay,
        fake,
    }
}

pub async fn order(
    p: &Providers,
    provider: &str,
    channel: Option<&str>,
    openid: Option<&str>,
    amount: &str,
) -> OrderCreated {
    create_order(
        p.w.db.conn(),
        &p.w.clients,
        OrderRequest {
            account_no: account_no(&p.w, &p.w.a).await,
            amount: amount.into(),
            provider: provider.into(),
            merchant_id: (provider == "alipay").then(|| p.alipay.id.into()),
            channel: channel.map(Into::into),
            openid: openid.map(Into::into),
        },
        Some("203.0.113.7"),
        Utc::now(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn wechat_orders_are_signed_and_answered_per_channel() {
    let p = providers(TestDb::sqlite().await.unwrap()).await;
    let jsapi = order(
        &p,
        "wechat",
        None,
        Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
        "30.00",
    )
    .await;
    assert_eq!(jsapi.pay["kind"], "jsapi", "openid given: JSAPI by default");
    let params = &jsapi.pay["params"];
    let message = format!(
        "{}\n{}\n{}\n{}\n",
        params["appId"].as_str().unwrap(),
        params["timeStamp"].as_str().unwrap(),
        params["nonceStr"].as_str().unwrap(),
        params["package"].as_str().unwrap()
    );
    assert_eq!(
        params["package"],
        format!("prepay_id=wx{}", jsapi.out_trade_no)
    );
    let merchant_public = RsaPublicKey::from(&fake::keys().await.merchant);
    assert!(verify_sha256(
        &merchant_public,
        message.as_bytes(),
        params["paySign"].as_str().unwrap()
    ));
    let h5 = order(&p, "wechat", None, None, "30.00").await;
    assert_eq!(h5.pay["kind"], "h5");
    assert!(h5.pay["h5_url"]
        .as_str()
        .unwrap()
        .starts_with("https://wx.tenpay.com/"));
    let native = order(&p, "wechat", Some("native"), None, "30.00").await;
    assert_eq!(
        native.pay["code_url"],
        format!("weixin://wxpay/bizpayurl?pr={}", native.out_trade_no)
    );
    let seen = p.fake.state.lock().unwrap().requests.clone();
    assert_eq!(
        seen,
        [
            "/v3/pay/transactions/jsapi",
            "/v3/pay/transactions/h5",
            "/v3/pay/transactions/native"
        ],
        "the fake verified each signature"
    );

    // A provider that refuses (here: the signed path is not the path sent, so the fake answers
    // 401) fails the order instead of leaving it pending.
    let mut bad = p.w.clients.clone();
    bad.config.wechat_api_base = format!("{}/nowhere", p.fake.base);
    let err = create_order(
        p.w.db.conn(),
        &bad,
        OrderRequest {
            account_no: account_no(&p.w, &p.w.a).await,
            amount: "30.00".into(),
            provider: "wechat".into(),
            merchant_id: None,
            channel: Some("h5".into()),
            openid: None,
        },
        None,
        Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, payments::PaymentError::Provider(_)), "{err}");
}

#[tokio::test]
async fn polling_and_a_notification_racing_for_one_payment_credit_once() {
    for db in store::testing::backends().await {
        let p = Arc::new(providers(db).await);
        let before = balance_fen(&p.w, &p.w.a).await;
        let created = order(&p, "wechat", Some("native"), None, "42.00").await;
        // Not due yet, and not paid: nothing happens.
        assert_eq!(
            poll_due_orders(p.w.db.conn(), &p.w.clients, Utc::now())
                .await
                .unwrap()
                .polled,
            0
        );
        p.fake.set_state(&created.out_trade_no, "SUCCESS");
        let keys = fake::keys().await;
        let (headers, body) = payments::wechat::sign::notification(
            &keys.platform, PLATFORM_SERIAL, b"0123456789abcdef0123456789abcdef", "TRANSACTION.SUCCESS",
            &serde_json::json!({
                "mchid": "1900000109", "appid": "wxd678efh567hg6787", "out_trade_no": created.out_trade_no,
                "transaction_id": format!("42000{}", created.out_trade_no), "trade_state": "SUCCESS",
                "amount": {"total": 4200, "currency": "CNY"},
            }),
            Utc::now().timestamp(),
        ).unwrap();
        let later = Utc::now() + Duration::minutes(4);
        let poll = {
            let p = p.clone();
            tokio::spawn(async move {
                poll_due_orders(p.w.db.conn(), &p.w.clients, later)
                    .await
                    .unwrap()
            })
        };
        let notify = {
            let p = p.clone();
            tokio::spawn(async move {
                handle_wechat(
                    p.w.db.conn(),
                    &p.w.clients,
                    "wechat",
                    &p.w.merchant.id.to_string(),
                    &headers,
                    body.as_bytes(),
                    "test",
                    Utc::now(),
                )
                .await
            })
        };
        let (polled, answer) = (poll.await.unwrap(), notify.await.unwrap());
        assert_eq!(answer, NotifyAnswer::Ok);
        assert_eq!(polled.failed, 0, "{}", p.w.db.backend());
        assert_eq!(
            balance_fen(&p.w, &p.w.a).await,
            before + 4200,
            "{}: credited once",
            p.w.db.backend()
        );
        let order = store::payment::get(p.w.db.conn(), p.w.a.org, created.order_id.into())
            .await
            .unwrap();
        assert_eq!(order.status, PaymentStatus::Paid);
        assert_ledger_balances(&p.w).await;
    }
}

#[tokio::test]
async fn alipay_wap_urls_are_signed_and_polling_settles_orders() {
    let p = providers(TestDb::sqlite().await.unwrap()).await;
    let before = balance_fen(&p.w, &p.w.a).await;
    let paid = order(&p, "alipay", None, None, "12.34").await;
    assert_eq!(paid.pay["kind"], "alipay_wap");
    let params = fake::query_params(paid.pay["url"].as_str().unwrap());
    assert_eq!(params["method"], "alipay.trade.wap.pay");
    let content = payments::alipay::sign::signing_content(&params);
    assert!(
        verify_sha256(
            &RsaPublicKey::from(&fake::keys().await.app),
            content.as_bytes(),
            &params["sign"]
        ),
        "the WAP URL is signed with the app key"
    );
    let biz: serde_json::Value = serde_json::from_str(&params["biz_content"]).unwrap();
    assert_eq!(biz["total_amount"], "12.34");

    let closed = order(&p, "alipay", None, None, "5.00").await;
    let waiting = order(&p, "wechat", Some("native"), None, "6.00").await;
    fake::alipay_order(&p.fake, &paid.out_trade_no, 1234);
    p.fake.set_state(&paid.out_trade_no, "TRADE_SUCCESS");
    fake::alipay_order(&p.fake, &closed.out_trade_no, 500);
    p.fake.set_state(&closed.out_trade_no, "TRADE_CLOSED");
    let report = poll_due_orders(
        p.w.db.conn(),
        &p.w.clients,
        Utc::now() + Duration::minutes(4),
    )
    .await
    .unwrap();
    assert_eq!(
        (report.polled, report.credited, report.closed, report.failed),
        (3, 1, 1, 0),
        "{report:?}"
    );
    assert_eq!(balance_fen(&p.w, &p.w.a).await, before + 1234);
    // Still unpaid long after expiry: the order expires and is no longer polled.
    let report = poll_due_orders(p.w.db.conn(), &p.w.clients, Utc::now() + Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(report.expired, 1, "{report:?}");
    let order = store::payment::get(p.w.db.conn(), p.w.a.org, waiting.order_id.into())
        .await
        .unwrap();
    assert_eq!(order.status, PaymentStatus::Expired);
    assert_eq!(
        poll_due_orders(p.w.db.conn(), &p.w.clients, Utc::now() + Duration::hours(3))
            .await
            .unwrap()
            .polled,
        0
    );
    assert_ledger_balances(&p.w).await;
}
