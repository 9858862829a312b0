//! Refunds over HTTP: an org admin refunds part of a sandbox top-up; organization B cannot.

use crate::support::spawn_pay_app;

#[tokio::test]
async fn an_org_admin_refunds_a_paid_sandbox_order_and_another_org_cannot() {
    let app = spawn_pay_app(store::testing::TestDb::sqlite().await.unwrap(), |_| {}).await;
    app.create_merchant(serde_json::json!({"name": "Sandbox", "provider": "sandbox"}))
        .await;
    let before = app.balance_fen(&app.a).await;
    let order: serde_json::Value = app
        .client
        .post(app.url("/api/v1/pay/orders"))
        .json(&serde_json::json!({"account_no": app.account_no(&app.a).await, "amount": "40.00", "provider": "sandbox"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let order_id = order["order_id"].as_str().unwrap();
    let paid = app
        .client
        .post(app.url(order["pay"]["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    let body = serde_json::json!({"order_id": order_id, "amount": "15.00", "reason": "moved out"});
    let token_b = app.token("admin@b.example").await;
    let res = app
        .client
        .post(app.url("/api/v1/refunds"))
        .bearer_auth(token_b)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "organization B never sees A's order");
    let token = app.token("admin@a.example").await;
    let res = app
        .client
        .post(app.url("/api/v1/refunds"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let refund: serde_json::Value = res.json().await.unwrap();
    assert_eq!(refund["status"], "succeeded");
    assert_eq!(refund["amount"], "15.00");
    assert_eq!(app.balance_fen(&app.a).await, before + 4000 - 1500);
    let res = app
        .client
        .post(app.url("/api/v1/refunds"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"order_id": order_id, "amount": "25.01", "reason": "x"}))
        .send()
        .await
        .unwrap();
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "amount_exceeds_refundable");
    assert!(store::ledger::verify_balances(&app.db)
        .await
        .unwrap()
        .is_empty());
}
