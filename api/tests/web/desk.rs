//! The counter desk in HTML: a payment's numbered receipt, its reversal (冲正) with a reason and
//! a confirmation, an org admin's adjustment, the day-end report (日结) with its CSV, and the
//! overview's lists.

use crate::support::{csrf_of, hidden, spawn_webs, WebApp, MANAGER_A, MANAGER_B, PASSWORD};

pub const ADMIN_A: &str = "admin@a.example";

/// An org admin of organization A who can sign in.
pub async fn add_admin_a(app: &WebApp) {
    let user = store::user::create_user(
        &app.db,
        store::user::NewUser {
            email: ADMIN_A.to_owned(),
            password_hash: api::auth::password::hash_password(PASSWORD).unwrap(),
            name: "Admin A".to_owned(),
            platform_admin: false,
        },
    )
    .await
    .unwrap();
    store::user::add_membership(&app.db, app.seeded.a.org, user.id, domain::Role::OrgAdmin)
        .await
        .unwrap();
}

/// Takes a confirmed counter payment on A's account; answers the page redirected to.
async fn pay(app: &WebApp, client: &reqwest::Client, amount: &str, method: &str) -> String {
    let path = format!("/accounts/{}", app.seeded.a.account);
    let (_, html) = app.get(client, &path).await;
    let form = [
        ("csrf", csrf_of(&html)),
        ("token", hidden(&html, "token")),
        ("confirmed", "1".to_owned()),
        ("amount", amount.to_owned()),
        ("method", method.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = app.post(client, &format!("{path}/counter"), &form).await;
    assert_eq!(res.status(), 303, "{}", app.backend);
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// The id in `?receipt=<id>`.
fn receipt_of(location: &str) -> String {
    let start = location.find("receipt=").unwrap() + "receipt=".len();
    location[start..].split('&').next().unwrap().to_owned()
}

#[tokio::test]
async fn payment_receipt_reversal_and_day_end() {
    for app in spawn_webs().await {
        let a = app.signed_in(MANAGER_A).await;
        let no = app.account_no_a().await;
        let account = format!("/accounts/{}", app.seeded.a.account);

        let location = pay(&app, &a, "25.50", "card").await;
        let receipt = receipt_of(&location);
        let (_, html) = app.get(&a, &location).await;
        assert!(html.contains("已收款 ¥25.50，当前余额 ¥125.50"), "{html}");
        assert!(
            html.contains(&format!(
                "href=\"/receipts/{receipt}\" id=\"print-receipt\""
            )),
            "the flash links the receipt"
        );
        assert!(html.contains(">No. 1</a>"), "the receipt is listed: {html}");

        // The printable receipt.
        let (status, html) = app.get(&a, &format!("/receipts/{receipt}")).await;
        assert_eq!(status, 200, "{}", app.backend);
        assert!(html.contains("<span id=\"receipt-no\">1</span>"));
        assert!(html.contains("id=\"receipt-amount\">¥25.50"));
        assert!(html.contains("银行卡"));
        assert!(html.contains("data-print"));
        assert!(html.contains(&no));

        // A reversal needs a reason, shown next to the field; nothing moves.
        let (_, html) = app.get(&a, &account).await;
        let csrf = csrf_of(&html);
        let action = format!("{account}/reversal");
        let res = app
            .post(
                &a,
                &action,
                &[
                    ("csrf", &csrf),
                    ("confirmed", "1"),
                    ("receipt", &receipt),
                    ("reason", "  "),
                ],
            )
            .await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(
            html.contains("id=\"rev_reason-error\" role=\"alert\">请填写原因"),
            "{html}"
        );
        assert!(html.contains("data-balance=\"125.50\""));

        // Without the dialog's answer the server asks first.
        let res = app
            .post(
                &a,
                &action,
                &[
                    ("csrf", &csrf),
                    ("confirmed", "0"),
                    ("receipt", &receipt),
                    ("reason", "收错金额"),
                ],
            )
            .await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(
            html.contains(&format!("确认冲正收据 No. 1（¥25.50，账户 {no}）？")),
            "{html}"
        );

        let form = [
            ("csrf", csrf.as_str()),
            ("confirmed", "1"),
            ("receipt", receipt.as_str()),
            ("reason", "收错金额"),
        ];
        let res = app.post(&a, &action, &form).await;
        assert_eq!(res.status(), 303);
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let (_, html) = app.get(&a, &location).await;
        assert!(
            html.contains("已冲正 ¥25.50（收据 No. 2），当前余额 ¥100.00"),
            "{html}"
        );
        assert!(html.contains("data-balance=\"100.00\""));
        assert!(
            html.contains("已冲正</span>"),
            "the payment shows as reversed"
        );

        // Again: the same reversal, nothing more.
        let res = app.post(&a, &action, &form).await;
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let (_, html) = app.get(&a, &location).await;
        assert!(html.contains("此笔收款已登记过"), "{html}");
        assert!(html.contains("data-balance=\"100.00\""));

        // The day-end report adds it all up.
        let (status, html) = app.get(&a, "/desk/day-end").await;
        assert_eq!(status, 200);
        assert!(html.contains("data-total=\"payments\">¥25.50"), "{html}");
        assert!(html.contains("data-total=\"reversals\">¥-25.50"));
        assert!(html.contains("data-total=\"net\">¥0.00"));
        assert!(
            html.contains("<td>银行卡</td><td class=\"num\">1</td><td class=\"num\">25.50</td>")
        );
        assert!(
            html.contains("Manager &lt;manager@a.example&gt;"),
            "by cashier: {html}"
        );
        assert!(html.contains("href=\"/desk/day-end.csv?date="));
        let (status, html) = app.get(&a, "/desk/day-end?date=2026-13-01").await;
        assert_eq!(status, 422);
        assert!(html.contains("id=\"date-error\" role=\"alert\">请输入日期"));

        let res = a.get(app.url("/desk/day-end.csv")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
        let csv = res.text().await.unwrap();
        assert!(csv.starts_with('\u{feff}'));
        assert!(csv.contains(",payment,card,"));
        assert!(csv.contains(",reversal,"));

        // The desk finds accounts by number and lists today's receipts.
        let res = a
            .get(app.url(&format!("/desk?no={no}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        assert!(res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&account));
        let (status, html) = app.get(&a, "/desk?no=nope").await;
        assert_eq!(status, 422);
        assert!(html.contains("id=\"no-error\" role=\"alert\">找不到该账号"));
        assert!(html.contains(">No. 2</a>"));

        // Organization B sees none of it.
        let b = app.signed_in(MANAGER_B).await;
        let (status, _) = app.get(&b, &format!("/receipts/{receipt}")).await;
        assert_eq!(status, 404);
        let (_, html) = app.get(&b, "/desk/day-end").await;
        assert!(html.contains("data-total=\"net\">¥0.00"));
        assert!(!html.contains("No. 1"));
        let (_, html_b) = app.get(&b, "/").await;
        let res = app
            .post(
                &b,
                &action,
                &[
                    ("csrf", &csrf_of(&html_b)),
                    ("confirmed", "1"),
                    ("receipt", &receipt),
                    ("reason", "x"),
                ],
            )
            .await;
        assert_eq!(res.status(), 404);
        assert!(store::ledger::verify_balances(&app.db)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn adjustments_are_for_org_admins_with_a_reason() {
    for app in spawn_webs().await {
        add_admin_a(&app).await;
        let account = format!("/accounts/{}", app.seeded.a.account);
        let action = format!("{account}/adjustment");

        // An operator sees no adjustment form and may not post one.
        let operator = app.signed_in(MANAGER_A).await;
        let (_, html) = app.get(&operator, &account).await;
        assert!(!html.contains("id=\"adjust-submit\""), "{}", app.backend);
        let res = app
            .post(
                &operator,
                &action,
                &[
                    ("csrf", &csrf_of(&html)),
                    ("token", "adjust-token-123456"),
                    ("confirmed", "1"),
                    ("direction", "credit"),
                    ("amount", "5"),
                    ("reason", "x"),
                ],
            )
            .await;
        assert_eq!(res.status(), 403);

        let admin = app.signed_in(ADMIN_A).await;
        let (_, html) = app.get(&admin, &account).await;
        assert!(html.contains("id=\"adjust-submit\""));
        let csrf = csrf_of(&html);
        let res = app
            .post(
                &admin,
                &action,
                &[
                    ("csrf", &csrf),
                    ("token", "adjust-token-123456"),
                    ("confirmed", "1"),
                    ("amount", "abc"),
                    ("reason", ""),
                ],
            )
            .await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"adj_direction-error\" role=\"alert\">请选择增加或扣减"));
        assert!(html.contains("id=\"adj_amount-error\" role=\"alert\">请输入金额"));
        assert!(html.contains("id=\"adj_reason-error\" role=\"alert\">请填写原因"));
        assert!(html.contains("value=\"abc\""), "the amount is kept");

        let form = [
            ("csrf", csrf.as_str()),
            ("token", "adjust-token-123456"),
            ("direction", "debit"),
            ("amount", "12.30"),
            ("reason", "电表更换前的用电"),
        ];
        let mut ask = form.to_vec();
        ask.push(("confirmed", "0"));
        let res = app.post(&admin, &action, &ask).await;
        assert_eq!(res.status(), 200);
        let no = app.account_no_a().await;
        assert!(res
            .text()
            .await
            .unwrap()
            .contains(&format!("确认从账户 {no} 扣减余额 ¥12.30？")));

        let mut go = form.to_vec();
        go.push(("confirmed", "1"));
        let res = app.post(&admin, &action, &go).await;
        assert_eq!(res.status(), 303);
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let (_, html) = app.get(&admin, &location).await;
        assert!(
            html.contains("已调账 ¥-12.30（收据 No. 1），当前余额 ¥87.70"),
            "{html}"
        );
        assert!(html.contains("电表更换前的用电"));
        // A resend posts nothing more.
        let res = app.post(&admin, &action, &go).await;
        assert_eq!(res.status(), 303);
        let (_, html) = app.get(&admin, &account).await;
        assert!(html.contains("data-balance=\"87.70\""));
    }
}

#[tokio::test]
async fn the_overview_lists_tripped_accounts_and_offline_meters() {
    use sea_orm::{ActiveModelTrait as _, IntoActiveModel as _, Set};
    for app in spawn_webs().await {
        let mut row = store::account::get(&app.db, app.seeded.a.org, app.seeded.a.account)
            .await
            .unwrap()
            .into_active_model();
        row.cc_state = Set("tripped".to_owned());
        row.update(&app.db).await.unwrap();
        let gw = store::gateway::create(
            &app.db,
            app.seeded.a.org,
            store::gateway::NewGateway {
                site_id: app.seeded.a.site,
                gateway_id: "gw-overview".into(),
                name: "DTU".into(),
                mqtt_password_hash: None,
            },
        )
        .await
        .unwrap();
        store::meter::create(
            &app.db,
            app.seeded.a.org,
            store::meter::NewMeter {
                gateway_id: gw.id,
                unit_id: Some(app.seeded.a.unit),
                bus: "rs485-1".into(),
                slave: 1,
                wire_id: "m-offline".into(),
                model: None,
                register_map: None,
                ct_ratio: rust_decimal::Decimal::ONE,
                max_power_kw: rust_decimal::Decimal::from(20),
            },
        )
        .await
        .unwrap();

        let a = app.signed_in(MANAGER_A).await;
        let (_, html) = app.get(&a, "/").await;
        let no = app.account_no_a().await;
        let tripped = &html[html.find("id=\"list-tripped\"").unwrap()..];
        let tripped = &tripped[..tripped.find("</section>").unwrap()];
        assert!(tripped.contains(&no), "{}: {html}", app.backend);
        let alarmed = &html[html.find("id=\"list-alarmed\"").unwrap()..];
        assert!(alarmed[..alarmed.find("</section>").unwrap()].contains("暂无"));
        let offline = &html[html.find("id=\"list-offline\"").unwrap()..];
        assert!(offline[..offline.find("</section>").unwrap()]
            .contains("<td>m-offline</td><td>101</td><td>gw-overview</td>"));
        assert!(html.contains("id=\"list-work-orders\""));

        let b = app.signed_in(MANAGER_B).await;
        let (_, html) = app.get(&b, "/").await;
        assert!(!html.contains("m-offline"));
        assert!(!html.contains(&no));
    }
}

#[tokio::test]
async fn closing_an_account_settles_it_to_zero_after_confirmation() {
    for app in spawn_webs().await {
        let a = app.signed_in(MANAGER_A).await;
        let account = format!("/accounts/{}", app.seeded.a.account);
        let action = format!("{account}/close");
        let (_, html) = app.get(&a, &account).await;
        assert!(html.contains("id=\"close-submit\""), "{}", app.backend);
        let csrf = csrf_of(&html);

        // ¥100.00 in the tenant's favour cannot be "collected": said next to the choice.
        let res = app
            .post(
                &a,
                &action,
                &[
                    ("csrf", &csrf),
                    ("confirmed", "1"),
                    ("settlement", "collect"),
                ],
            )
            .await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(
            html.contains("id=\"close_settlement-error\" role=\"alert\">余额为正，请选择退款"),
            "{html}"
        );
        assert!(html.contains("data-balance=\"100.00\""));

        let form = [
            ("csrf", csrf.as_str()),
            ("settlement", "cash_refund"),
            ("method", "cash"),
            ("note", "退租"),
        ];
        let mut ask = form.to_vec();
        ask.push(("confirmed", "0"));
        let res = app.post(&a, &action, &ask).await;
        assert_eq!(res.status(), 200);
        let no = app.account_no_a().await;
        assert!(res
            .text()
            .await
            .unwrap()
            .contains(&format!("确认销户账户 {no}（当前余额 ¥100.00）？")));

        let mut go = form.to_vec();
        go.push(("confirmed", "1"));
        let res = app.post(&a, &action, &go).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"closing-cash\">¥100.00"), "{html}");
        assert!(html.contains("id=\"closing-balance\">¥0.00"));
        let (_, html) = app.get(&a, &account).await;
        assert!(html.contains("data-balance=\"0.00\""));
        assert!(
            !html.contains("id=\"close-submit\""),
            "a closed account has no forms"
        );
        assert!(store::ledger::verify_balances(&app.db)
            .await
            .unwrap()
            .is_empty());
    }
}
