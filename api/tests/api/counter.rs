//! The counter desk: a double click credits once, receipts are numbered per organization,
//! reversals follow the policy, and the day-end report adds up.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{spawn_apps, TestApp};

async fn pay(
    app: &TestApp,
    token: &str,
    account: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/accounts/{account}/payments")))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_double_click_credits_once_and_receipts_are_numbered_per_organization() {
    for app in spawn_apps().await {
        let t = app.access_token(&app.admin_a).await;
        let acc = app.seeded.a.account.to_string();
        let body = json!({"amount": "50", "method": "cash", "note": "柜台"});
        let first = pay(&app, &t, &acc, "click-1", &body).await;
        assert_eq!(first.status(), 201);
        let first: Value = first.json().await.unwrap();
        assert_eq!(first["receipt_no"], 1);
        assert_eq!(first["amount"], "50.00");
        assert_eq!(first["balance_after"], "150.00");
        let again = pay(&app, &t, &acc, "click-1", &body).await;
        assert_eq!(again.status(), 200);
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["id"], first["id"]);
        assert_eq!(again["duplicate"], true);
        let reused = pay(
            &app,
            &t,
            &acc,
            "click-1",
            &json!({"amount": "60", "method": "cash"}),
        )
        .await;
        assert_eq!(reused.status(), 409);
        let second: Value = pay(
            &app,
            &t,
            &acc,
            "click-2",
            &json!({"amount": "0.50", "method": "card"}),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(second["receipt_no"], 2);
        let account = app
            .expect(
                Method::GET,
                &format!("/api/v1/accounts/{acc}"),
                &t,
                None,
                200,
            )
            .await;
        assert_eq!(account["balance"], "150.50");
        // Organization B starts its own sequence; A's account is not B's.
        let tb = app.access_token(&app.admin_b).await;
        let b: Value = pay(
            &app,
            &tb,
            &app.seeded.b.account.to_string(),
            "click-1",
            &body,
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(b["receipt_no"], 1);
        assert_eq!(pay(&app, &tb, &acc, "x", &body).await.status(), 404);

        // Bad input writes nothing.
        for bad in [
            json!({"amount": "-1", "method": "cash"}),
            json!({"amount": "1.001", "method": "cash"}),
            json!({"amount": "0", "method": "cash"}),
            json!({"amount": "1", "method": "cheque"}),
        ] {
            assert_eq!(
                pay(&app, &t, &acc, "bad", &bad).await.status(),
                400,
                "{bad}"
            );
        }
        let no_key = app
            .call(
                Method::POST,
                &format!("/api/v1/accounts/{acc}/payments"),
                &t,
                Some(&body),
            )
            .await;
        assert_eq!(no_key.status(), 400);
        let tech = app
            .token_for_role(app.org_a, domain::Role::Technician)
            .await;
        assert_eq!(pay(&app, &tech, &acc, "tech", &body).await.status(), 403);

        // Reversal (冲正): once, back to the previous balance, with its own receipt number.
        let path = format!(
            "/api/v1/receipts/{}/reversal",
            first["id"].as_str().unwrap()
        );
        let rev = app
            .expect(
                Method::POST,
                &path,
                &t,
                Some(&json!({"reason": "收错"})),
                201,
            )
            .await;
        assert_eq!(rev["amount"], "-50.00");
        assert_eq!(rev["balance_after"], "100.50");
        assert_eq!(rev["receipt_no"], 3);
        let rev_again = app
            .expect(
                Method::POST,
                &path,
                &t,
                Some(&json!({"reason": "again"})),
                200,
            )
            .await;
        assert_eq!(rev_again["id"], rev["id"]);

        let page = app
            .call(
                Method::GET,
                &format!("/api/v1/receipts/{}/print", second["id"].as_str().unwrap()),
                &t,
                None,
            )
            .await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("收据") && html.contains("¥0.50"), "{html}");

        let report = app
            .expect(Method::GET, "/api/v1/reports/day-end", &t, None, 200)
            .await;
        assert_eq!(report["payments"]["count"], 2);
        assert_eq!(report["payments"]["total"], "50.50");
        assert_eq!(report["reversals"]["total"], "-50.00");
        assert_eq!(report["payments_by_method"]["cash"]["total"], "50.00");
        assert_eq!(report["net_total"], "0.50");

        let mismatches = store::ledger::verify_balances(&app.db).await.unwrap();
        assert!(mismatches.is_empty(), "{mismatches:?}");
    }
}
