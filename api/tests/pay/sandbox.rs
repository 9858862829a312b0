//! The demo's path end to end over HTTP: a sandbox merchant, a public order, the sandbox pay
//! page, its signed notification to our notify URL, one credit.

use crate::support::spawn_pay_app;

#[tokio::test]
async fn paying_on_the_sandbox_page_credits_the_account_once() {
    for db in store::testing::backends().await {
        let app = spawn_pay_app(db, |_| {}).await;
        let merchant = app
            .create_merchant(serde_json::json!({
                "name": "Sandbox", "provider": "sandbox", "default_for": "organization"
            }))
            .await;
        assert_eq!(merchant["provider"], "sandbox");
        let text = merchant.to_string();
        assert!(
            !text.contains("PRIVATE KEY") && !text.contains("api_v3_key"),
            "no secret is returned: {text}"
        );
        let before = app.balance_fen(&app.a).await;

        let res = app
            .client
            .post(app.url("/api/v1/pay/orders"))
            .json(&serde_json::json!({
                "account_no": app.account_no(&app.a).await, "amount": "25.50", "provider": "sandbox"
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let order: serde_json::Value = res.json().await.unwrap();
        assert_eq!(order["amount"], "25.50");
        assert_eq!(order["pay"]["kind"], "sandbox");
        let pay_url = app.url(order["pay"]["url"].as_str().unwrap());

        let page = app
            .client
            .get(&pay_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("¥25.50") && page.contains("Pay") && page.contains("支付"),
            "{page}"
        );
        assert!(page.contains(r#"data-status="pending""#));

        for _ in 0..2 {
            let paid = app.client.post(&pay_url).send().await.unwrap();
            assert_eq!(paid.status(), 200);
            let paid = paid.text().await.unwrap();
            assert!(paid.contains(r#"data-status="paid""#), "{paid}");
        }
        assert_eq!(
            app.balance_fen(&app.a).await,
            before + 2550,
            "credited once: {}",
            app.test_db.backend()
        );
        let status: serde_json::Value = app
            .client
            .get(app.url(&format!(
                "/api/v1/pay/orders/{}",
                order["order_id"].as_str().unwrap()
            )))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(status["status"], "paid");
        assert!(store::ledger::verify_balances(&app.db)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn orders_respect_amounts_limits_and_accounts() {
    let app = spawn_pay_app(store::testing::TestDb::sqlite().await.unwrap(), |_| {}).await;
    app.create_merchant(serde_json::json!({"name": "Sandbox", "provider": "sandbox"}))
        .await;
    let account_no = app.account_no(&app.a).await;
    let order = |amount: &str, account: &str| {
        app.client
            .post(app.url("/api/v1/pay/orders"))
            .json(&serde_json::json!({"account_no": account, "amount": amount, "provider": "sandbox"}))
            .send()
    };
    for (amount, code) in [
        ("1.234", "invalid_amount"),
        ("-5", "invalid_amount"),
        ("0.50", "amount_out_of_range"),
        ("5000.01", "amount_out_of_range"),
    ] {
        let res = order(amount, &account_no).await.unwrap();
        assert_eq!(res.status(), 400, "{amount}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], code, "{amount}");
    }
    let res = order("10", "0000000000").await.unwrap();
    assert_eq!(res.status(), 404);
    // Organization B has no merchant.
    let res = order("10", &app.account_no(&app.b).await).await.unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "no_merchant");
    for _ in 0..5 {
        assert_eq!(order("10", &account_no).await.unwrap().status(), 201);
    }
    let res = order("10", &account_no).await.unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "too_many_pending_orders");
    // The address has now used its allowance of the window.
    let mut limited = false;
    for _ in 0..api::pay::ORDERS_PER_WINDOW {
        let res = order("10", &account_no).await.unwrap();
        if res.status() == 429 {
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["code"], "rate_limited");
            limited = true;
            break;
        }
    }
    assert!(limited, "the public order endpoint is rate limited");
}

#[tokio::test]
async fn only_org_admins_create_merchants_and_sandbox_can_be_disabled() {
    let app = spawn_pay_app(store::testing::TestDb::sqlite().await.unwrap(), |s| {
        s.sandbox_payments = false;
    })
    .await;
    let res = app
        .client
        .post(app.url("/api/v1/merchants"))
        .json(&serde_json::json!({"name": "S", "provider": "sandbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let token = app.token("admin@a.example").await;
    let res = app
        .client
        .post(app.url("/api/v1/merchants"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "S", "provider": "sandbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "sandbox_disabled");
}
