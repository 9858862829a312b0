//! Twenty copies of the very first notification arriving at once over HTTP are all answered
//! 204, and the account is credited once, on SQLite (no "database is locked") and PostgreSQL.

use payments::merchant::MerchantKeys;

use crate::support::spawn_pay_app;

#[tokio::test]
async fn twenty_concurrent_first_notifications_over_http_credit_once() {
    for db in store::testing::backends().await {
        let app = spawn_pay_app(db, |_| {}).await;
        let merchant = app
            .create_merchant(serde_json::json!({"name": "Sandbox", "provider": "sandbox"}))
            .await;
        let merchant_id: uuid::Uuid = merchant["id"].as_str().unwrap().parse().unwrap();
        let before = app.balance_fen(&app.a).await;
        let order: serde_json::Value = app
            .client
            .post(app.url("/api/v1/pay/orders"))
            .json(&serde_json::json!({"account_no": app.account_no(&app.a).await, "amount": "12.00", "provider": "sandbox"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let order_id: uuid::Uuid = order["order_id"].as_str().unwrap().parse().unwrap();
        let row = store::payment::get(&app.db, app.a.org, order_id.into())
            .await
            .unwrap();
        let merchant_row = store::merchant::get(&app.db, app.a.org, merchant_id.into())
            .await
            .unwrap();
        let MerchantKeys::Sandbox(keys, platform) = app.clients().keys(&merchant_row).unwrap()
        else {
            panic!("sandbox keys");
        };
        let (headers, body) = payments::sandbox::paid_notification(
            &keys,
            &platform,
            &row,
            "sandbox-http-race",
            chrono::Utc::now(),
        )
        .unwrap();
        let url = app.url(&format!("/api/v1/pay/notify/sandbox/{merchant_id}"));
        let mut sends = Vec::new();
        for _ in 0..20 {
            let mut req = app
                .client
                .post(&url)
                .header("Content-Type", "application/json");
            for (name, value) in [
                ("Wechatpay-Timestamp", &headers.timestamp),
                ("Wechatpay-Nonce", &headers.nonce),
                ("Wechatpay-Signature", &headers.signature),
                ("Wechatpay-Serial", &headers.serial),
            ] {
                req = req.header(name, value.clone().unwrap());
            }
            sends.push(tokio::spawn(req.body(body.clone()).send()));
        }
        for send in sends {
            let res = send.await.unwrap().unwrap();
            assert_eq!(
                res.status(),
                204,
                "{}: {:?}",
                app.test_db.backend(),
                res.text().await
            );
        }
        assert_eq!(
            app.balance_fen(&app.a).await,
            before + 1200,
            "{}",
            app.test_db.backend()
        );
        assert!(store::ledger::verify_balances(&app.db)
            .await
            .unwrap()
            .is_empty());
        // A forged copy is refused with WeChat's failure body.
        let res = app
            .client
            .post(&url)
            .header("Wechatpay-Timestamp", headers.timestamp.clone().unwrap())
            .header("Wechatpay-Nonce", headers.nonce.clone().unwrap())
            .header("Wechatpay-Signature", headers.signature.clone().unwrap())
            .header("Wechatpay-Serial", headers.serial.clone().unwrap())
            .body(body.replace("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESS "))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        let fail: serde_json::Value = res.json().await.unwrap();
        assert_eq!(fail["code"], "FAIL");
    }
}
