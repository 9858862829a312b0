//! The manager's pages: sign-in, overview, accounts, account page with counter payment, the
//! room board and the door-QR sheet.

use crate::support::{csrf_of, hidden, spawn_webs, MANAGER_A, MANAGER_B, PASSWORD};

#[tokio::test]
async fn signed_out_managers_are_sent_to_sign_in() {
    for app in spawn_webs().await {
        let client = app.client();
        let res = client
            .get(app.url("/accounts?state=alarmed"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{}", app.backend);
        assert_eq!(
            res.headers()["location"],
            "/login?next=/accounts%3Fstate%3Dalarmed"
        );
        let (status, html) = app.get(&client, "/login").await;
        assert_eq!(status, 200);
        assert!(html.contains("<html lang=\"zh-CN\">"));
        assert!(html.contains("<label for=\"email\">邮箱</label>"), "{html}");
        assert!(html.contains("<label for=\"password\">密码</label>"));
    }
}

#[tokio::test]
async fn sign_in_shows_errors_next_to_the_fields_and_checks_csrf() {
    for app in spawn_webs().await {
        let client = app.client();
        let (_, html) = app.get(&client, "/login").await;
        let csrf = csrf_of(&html);

        let res = app
            .post(
                &client,
                "/login",
                &[("csrf", &csrf), ("email", "nobody"), ("password", "")],
            )
            .await;
        assert_eq!(res.status(), 422, "{}", app.backend);
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"email-error\" role=\"alert\">请输入有效的邮箱地址"));
        assert!(html.contains("id=\"password-error\" role=\"alert\">必填"));
        assert!(html.contains("value=\"nobody\""), "the email is kept");

        let res = app
            .post(
                &client,
                "/login",
                &[
                    ("csrf", &csrf),
                    ("email", MANAGER_A),
                    ("password", "wrong password"),
                ],
            )
            .await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("邮箱或密码错误"));

        // A form posted from another site carries no matching token.
        let res = app
            .post(
                &client,
                "/login",
                &[
                    ("csrf", "forged-token-forged-token-forged-token"),
                    ("email", MANAGER_A),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(res.status(), 403);
    }
}

#[tokio::test]
async fn overview_cards_count_the_managers_organization_only() {
    for app in spawn_webs().await {
        let a = app.signed_in(MANAGER_A).await;
        let (status, html) = app.get(&a, "/").await;
        assert_eq!(status, 200, "{}", app.backend);
        assert!(html.contains("data-stat=\"accounts\">1<"), "{html}");
        assert!(html.contains("data-stat=\"tripped\">0<"));
        assert!(html.contains("data-stat=\"balance_total\">¥100.00<"));
        assert!(html.contains("<svg role=\"img\" aria-label=\"近 30 天用电费用与充值\""));

        let b = app.signed_in(MANAGER_B).await;
        let (_, html) = app.get(&b, "/?lang=en").await;
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("Total balance"));
        assert!(html.contains("data-stat=\"balance_total\">¥50.00<"));
        // The choice sticks through the cookie.
        let (_, html) = app.get(&b, "/accounts").await;
        assert!(html.contains("Accounts"));
        assert!(html.contains("<html lang=\"en\">"));
    }
}

#[tokio::test]
async fn english_comes_from_accept_language() {
    for app in spawn_webs().await {
        let client = app.client();
        let res = client
            .get(app.url("/login"))
            .header("Accept-Language", "en-GB,en;q=0.9,zh;q=0.5")
            .send()
            .await
            .unwrap();
        let html = res.text().await.unwrap();
        assert!(html.contains("Property manager sign-in"), "{}", app.backend);
    }
}

#[tokio::test]
async fn accounts_list_and_page_show_the_account_and_hide_other_organizations() {
    for app in spawn_webs().await {
        let a = app.signed_in(MANAGER_A).await;
        let no = app.account_no_a().await;
        let (_, html) = app.get(&a, "/accounts").await;
        assert!(html.contains(&no), "{}", app.backend);
        assert!(html.contains("Zhang San"));
        assert!(html.contains("¥100.00"));
        assert!(html.contains("state-normal\">正常"));

        let (status, html) = app
            .get(&a, &format!("/accounts/{}", app.seeded.a.account))
            .await;
        assert_eq!(status, 200);
        assert!(html.contains("data-balance=\"100.00\">¥100.00"));
        assert!(html.contains("开户"), "the opening entry is in the ledger");
        assert!(html.contains("<label for=\"amount\">收款金额（元）</label>"));

        let (status, html) = app
            .get(&a, &format!("/accounts/{}", app.seeded.b.account))
            .await;
        assert_eq!(status, 404);
        assert!(html.contains("找不到该页面"));
        assert!(!html.contains("¥50.00"));
    }
}

#[tokio::test]
async fn counter_payment_asks_first_credits_once_and_shows_the_new_balance() {
    for app in spawn_webs().await {
        let a = app.signed_in(MANAGER_A).await;
        let path = format!("/accounts/{}", app.seeded.a.account);
        let (_, html) = app.get(&a, &path).await;
        let csrf = csrf_of(&html);
        let token = hidden(&html, "token");
        let action = format!("{path}/counter");

        let res = app
            .post(
                &a,
                &action,
                &[
                    ("csrf", &csrf),
                    ("token", &token),
                    ("confirmed", "0"),
                    ("amount", "12.345"),
                ],
            )
            .await;
        assert_eq!(res.status(), 422, "{}", app.backend);
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"amount-error\" role=\"alert\">请输入金额"));
        assert!(html.contains("value=\"12.345\""));

        // Without the dialog's answer the server asks on its own page; nothing is posted yet.
        let res = app
            .post(
                &a,
                &action,
                &[
                    ("csrf", &csrf),
                    ("token", &token),
                    ("confirmed", "0"),
                    ("amount", "25.5"),
                ],
            )
            .await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        let no = app.account_no_a().await;
        assert!(
            html.contains(&format!("确认向账户 {no} 收款 ¥25.50？")),
            "{html}"
        );
        let (_, page) = app.get(&a, &path).await;
        assert!(page.contains("¥100.00"));

        let form = [
            ("csrf", csrf.as_str()),
            ("token", &token),
            ("confirmed", "1"),
            ("amount", "25.50"),
            ("memo", "现金"),
        ];
        let res = app.post(&a, &action, &form).await;
        assert_eq!(res.status(), 303);
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let (_, html) = app.get(&a, &location).await;
        assert!(html.contains("已收款 ¥25.50，当前余额 ¥125.50"), "{html}");
        assert!(html.contains("data-balance=\"125.50\""));
        assert!(html.contains("现金"));

        // The same form again (a double click, a resend) credits nothing more.
        let res = app.post(&a, &action, &form).await;
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let (_, html) = app.get(&a, &location).await;
        assert!(html.contains("此笔收款已登记过"));
        assert!(html.contains("data-balance=\"125.50\""));
        assert!(store::ledger::verify_balances(&app.db)
            .await
            .unwrap()
            .is_empty());

        // Organization B's manager cannot pay into A's account.
        let b = app.signed_in(MANAGER_B).await;
        let (_, html) = app.get(&b, "/").await;
        let csrf_b = csrf_of(&html);
        let res = app
            .post(
                &b,
                &action,
                &[
                    ("csrf", &csrf_b),
                    ("token", "another-token-1234"),
                    ("confirmed", "1"),
                    ("amount", "5"),
                ],
            )
            .await;
        assert_eq!(res.status(), 404);
    }
}

#[tokio::test]
async fn room_board_and_door_qr_sheet() {
    for app in spawn_webs().await {
        let a = app.signed_in(MANAGER_A).await;
        let (_, html) = app.get(&a, "/sites").await;
        assert!(html.contains("org-a site"), "{}", app.backend);
        assert!(html.contains(&format!(
            "href=\"/buildings/{}\">Building 1",
            app.seeded.a.building
        )));
        assert!(!html.contains("org-b site"));

        let (_, html) = app
            .get(&a, &format!("/buildings/{}", app.seeded.a.building))
            .await;
        assert!(html.contains("tile tile-normal"), "{html}");
        assert!(html.contains("<span class=\"tile-unit\">101</span>"));
        assert!(html.contains("¥100.00"));

        let no = app.account_no_a().await;
        let (_, html) = app
            .get(&a, &format!("/buildings/{}/qr", app.seeded.a.building))
            .await;
        assert!(html.contains(&format!("aria-label=\"http://pay.example.com/t/{no}\"")));
        assert!(html.contains(&format!("账号 {no}")));

        let (status, _) = app
            .get(&a, &format!("/buildings/{}", app.seeded.b.building))
            .await;
        assert_eq!(status, 404);
    }
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    for app in spawn_webs().await {
        let a = app.signed_in(MANAGER_A).await;
        let (_, html) = app.get(&a, "/").await;
        let res = app.post(&a, "/logout", &[("csrf", &csrf_of(&html))]).await;
        assert_eq!(res.status(), 303, "{}", app.backend);
        let res = a.get(app.url("/")).send().await.unwrap();
        assert_eq!(res.status(), 303);
    }
}
