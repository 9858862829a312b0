//! CSV exports: UTF-8 with a BOM, scoped to the caller's organization and role, formulas in
//! free text neutralised.

use reqwest::Method;
use serde_json::json;

use crate::support::spawn_apps;

async fn csv(app: &crate::support::TestApp, token: &str, path: &str) -> (u16, String) {
    let res = app.call(Method::GET, path, token, None).await;
    let status = res.status().as_u16();
    if status == 200 {
        assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
        assert!(res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename="));
    }
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn exports_are_excel_friendly_and_stay_in_the_organization() {
    for app in spawn_apps().await {
        let token = app.access_token(&app.admin_a).await;
        let account_a: uuid::Uuid = app.seeded.a.account.into();
        let account_b: uuid::Uuid = app.seeded.b.account.into();
        let a = app
            .expect(
                Method::GET,
                &format!("/api/v1/accounts/{account_a}"),
                &token,
                None,
                200,
            )
            .await;
        let account_no_a = a["account_no"].as_str().unwrap().to_owned();
        let token_b = app.access_token(&app.admin_b).await;
        let b = app
            .expect(
                Method::GET,
                &format!("/api/v1/accounts/{account_b}"),
                &token_b,
                None,
                200,
            )
            .await;

        // A counter payment with a note a spreadsheet would run as a formula.
        let res = app
            .client
            .post(app.url(&format!("/api/v1/accounts/{account_a}/payments")))
            .bearer_auth(&token)
            .header("Idempotency-Key", "export-test-1")
            .json(&json!({"amount": "12.50", "method": "cash", "note": "=HYPERLINK(\"x\"),1"}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());

        let (status, text) = csv(&app, &token, "/api/v1/exports/accounts.csv").await;
        assert_eq!(status, 200);
        assert!(text.starts_with("\u{feff}account_no,id,unit_id,tenant_id,balance,state,status"));
        assert!(
            text.contains(&format!("{account_no_a},{account_a},")),
            "{text}"
        );
        assert!(
            !text.contains(b["account_no"].as_str().unwrap()),
            "no rows of B: {text}"
        );
        assert_eq!(text.lines().count(), 2, "header and A's one account");

        let (status, text) = csv(
            &app,
            &token,
            &format!("/api/v1/exports/accounts/{account_a}/ledger.csv"),
        )
        .await;
        assert_eq!(status, 200);
        assert!(text.starts_with("\u{feff}entry_id,created_at,kind,amount,balance_after"));
        let topup = text.lines().find(|l| l.contains(",topup,")).expect(&text);
        assert!(topup.contains(",12.50,"), "{topup}");

        let (status, text) = csv(&app, &token, "/api/v1/exports/day-end.csv").await;
        assert_eq!(status, 200);
        let payment = text.lines().find(|l| l.contains(",payment,")).expect(&text);
        assert!(
            payment.contains(",cash,") && payment.contains(",12.50,"),
            "{payment}"
        );
        // Guarded with a quote, then CSV-quoted because of the comma and the quotes.
        assert!(payment.ends_with(r#","'=HYPERLINK(""x""),1""#), "{payment}");
        assert!(text.lines().last().unwrap().starts_with("total,"));
        assert!(text.lines().last().unwrap().contains(",12.50,"));

        // Another organization's account answers 404; technicians see no money.
        let (status, _) = csv(
            &app,
            &token,
            &format!("/api/v1/exports/accounts/{account_b}/ledger.csv"),
        )
        .await;
        assert_eq!(status, 404);
        let technician = app
            .token_for_role(app.org_a, domain::Role::Technician)
            .await;
        let (status, _) = csv(&app, &technician, "/api/v1/exports/day-end.csv").await;
        assert_eq!(status, 403);
        let path = format!("/api/v1/exports/accounts/{account_a}/ledger.csv");
        assert_eq!(csv(&app, &technician, &path).await.0, 403);
        let viewer = app.token_for_role(app.org_a, domain::Role::Viewer).await;
        assert_eq!(
            csv(&app, &viewer, "/api/v1/exports/accounts.csv").await.0,
            200
        );
    }
}
