//! The tenant's door page: what anyone with the account number sees, the live stream, and the
//! top-up form.

use domain::Money;
use futures_util::StreamExt as _;
use sea_orm::{ActiveModelTrait as _, IntoActiveModel as _, Set};

use crate::support::{csrf_of, spawn_webs};

#[tokio::test]
async fn door_page_shows_balance_power_and_a_masked_name_only() {
    for app in spawn_webs().await {
        let no = app.account_no_a().await;
        let client = app.client();
        let (status, html) = app.get(&client, &format!("/t/{no}")).await;
        assert_eq!(status, 200, "{}", app.backend);
        assert!(
            html.contains("<span data-live=\"balance\">100.00</span>"),
            "{html}"
        );
        assert!(html.contains("正常供电"));
        assert!(html.contains("Z***"));
        assert!(!html.contains("Zhang San"), "the full name stays private");
        assert!(!html.contains("13800000000"), "the phone stays private");
        assert!(html.contains("name=\"viewport\""));
        assert!(
            !html.contains("/logout"),
            "no manager navigation on the door page"
        );

        let (status, _) = app.get(&client, "/t/1234567890").await;
        assert_eq!(status, 404);
        let (status, _) = app.get(&client, "/t/not-a-number").await;
        assert_eq!(status, 404);
    }
}

#[tokio::test]
async fn a_tripped_account_says_what_to_pay() {
    for app in spawn_webs().await {
        let org = app.seeded.a.org;
        let id = app.seeded.a.account;
        store::ledger::post_ledger_entry(
            &app.db,
            org,
            store::ledger::NewEntry {
                account_id: id,
                kind: store::LedgerKind::Charge,
                amount: Money::from_fen(-10_320),
                idempotency_key: format!("test-charge:{id}"),
                corrects: None,
                memo: None,
                created_by: None,
            },
        )
        .await
        .unwrap();
        let mut row = store::account::get(&app.db, org, id)
            .await
            .unwrap()
            .into_active_model();
        row.cc_state = Set("tripped".to_owned());
        row.update(&app.db).await.unwrap();

        let no = app.account_no_a().await;
        let client = app.client();
        let (_, html) = app.get(&client, &format!("/t/{no}?lang=zh")).await;
        assert!(html.contains("-3.20"), "{}", app.backend);
        assert!(html.contains("power power-off"));
        assert!(html.contains("充值 ¥10 即可恢复供电"), "{html}");
        // ¥103.20 used in the last two weeks, nothing left: no "days left" estimate.
        assert!(!html.contains("预计还可用"));

        let res = client
            .get(app.url(&format!("/t/{no}?lang=en")))
            .send()
            .await
            .unwrap();
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("Pay ¥10 to restore power"));
    }
}

#[tokio::test]
async fn days_left_come_from_the_last_two_weeks_of_use() {
    for app in spawn_webs().await {
        let (org, id) = (app.seeded.a.org, app.seeded.a.account);
        // ¥28 used in 14 days is ¥2 a day; ¥72 left lasts about 36 days.
        store::ledger::post_ledger_entry(
            &app.db,
            org,
            store::ledger::NewEntry {
                account_id: id,
                kind: store::LedgerKind::Charge,
                amount: Money::from_fen(-2_800),
                idempotency_key: format!("use:{id}"),
                corrects: None,
                memo: None,
                created_by: None,
            },
        )
        .await
        .unwrap();
        let no = app.account_no_a().await;
        let (_, html) = app.get(&app.client(), &format!("/t/{no}")).await;
        assert!(
            html.contains("预计还可用约 36 天"),
            "{}: {html}",
            app.backend
        );
    }
}

#[tokio::test]
async fn the_live_stream_starts_with_the_balance_and_follows_changes() {
    for app in spawn_webs().await {
        let no = app.account_no_a().await;
        let res = app
            .client()
            .get(app.url(&format!("/t/{no}/events")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", app.backend);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        let mut body = res.bytes_stream();
        let first = String::from_utf8(body.next().await.unwrap().unwrap().to_vec()).unwrap();
        assert_eq!(
            first,
            "event: balance\ndata: {\"balance\":\"100.00\",\"power\":\"on\",\"restore_amount\":null}\n\n"
        );
        store::ledger::post_ledger_entry(
            &app.db,
            app.seeded.a.org,
            store::ledger::NewEntry {
                account_id: app.seeded.a.account,
                kind: store::LedgerKind::Topup,
                amount: Money::from_fen(5_000),
                idempotency_key: "live-topup".to_owned(),
                corrects: None,
                memo: None,
                created_by: None,
            },
        )
        .await
        .unwrap();
        // The worker announces the change; the stream wakes on it, well before its 15 s
        // fallback read of the database.
        app.announce_a().await;
        let mut seen = String::new();
        while !seen.contains("150.00") {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
                .await
                .expect("no update within 5 s of the announcement")
                .unwrap()
                .unwrap();
            seen.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        assert!(seen.contains("event: balance\ndata: {\"balance\":\"150.00\""));
    }
}

#[tokio::test]
async fn without_a_merchant_the_door_page_says_online_payment_is_not_available() {
    for app in spawn_webs().await {
        let no = app.account_no_a().await;
        let (_, html) = app.get(&app.client(), &format!("/t/{no}")).await;
        assert!(html.contains("在线支付暂未开通"), "{}: {html}", app.backend);
        assert!(!html.contains(&format!("action=\"/t/{no}/pay\"")));
    }
}

#[tokio::test]
async fn top_up_validates_the_amount_and_asks_before_paying() {
    for app in spawn_webs().await {
        app.add_sandbox_merchant().await;
        let no = app.account_no_a().await;
        let client = app.client();
        let (_, html) = app.get(&client, &format!("/t/{no}")).await;
        assert!(html.contains("name=\"provider\" value=\"sandbox\" checked"));
        assert!(
            !html.contains("value=\"alipay\""),
            "only configured providers"
        );
        let csrf = csrf_of(&html);
        let action = format!("/t/{no}/pay");
        let res = app
            .post(
                &client,
                &action,
                &[
                    ("csrf", &csrf),
                    ("confirmed", "0"),
                    ("custom", "1.234"),
                    ("provider", "sandbox"),
                ],
            )
            .await;
        assert_eq!(res.status(), 422, "{}", app.backend);
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("id=\"amount-error\" role=\"alert\">请输入金额"));

        // A provider the organization does not take is refused next to the field.
        let res = app
            .post(
                &client,
                &action,
                &[
                    ("csrf", &csrf),
                    ("confirmed", "1"),
                    ("preset", "50"),
                    ("provider", "alipay"),
                ],
            )
            .await;
        assert_eq!(res.status(), 422);
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("id=\"provider-error\" role=\"alert\">请选择支付方式"));

        let res = app
            .post(
                &client,
                &action,
                &[
                    ("csrf", &csrf),
                    ("confirmed", "0"),
                    ("preset", "50"),
                    ("provider", "sandbox"),
                ],
            )
            .await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(
            html.contains(&format!("确认为账户 {no} 充值 ¥50.00？")),
            "{html}"
        );
        assert!(html.contains("name=\"provider\" value=\"sandbox\""));
        let orders = store::payment::list_orders(
            &app.db,
            app.seeded.a.org,
            Some(app.seeded.a.account),
            store::Page::new(1, 10),
        )
        .await
        .unwrap();
        assert!(
            orders.items.is_empty(),
            "nothing is ordered before the payer confirms"
        );
    }
}

#[tokio::test]
async fn a_confirmed_top_up_orders_in_the_sandbox_and_goes_to_its_page() {
    for app in spawn_webs().await {
        app.add_sandbox_merchant().await;
        let no = app.account_no_a().await;
        let client = app.client();
        let (_, html) = app.get(&client, &format!("/t/{no}")).await;
        let csrf = csrf_of(&html);
        let res = app
            .post(
                &client,
                &format!("/t/{no}/pay"),
                &[
                    ("csrf", &csrf),
                    ("confirmed", "1"),
                    ("custom", "20.00"),
                    ("provider", "sandbox"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", app.backend);
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let order_id: uuid::Uuid = location
            .strip_prefix("/sandbox/pay/")
            .unwrap_or_else(|| panic!("redirected to {location}"))
            .parse()
            .unwrap();
        let order = store::payment::get_public(&app.db, order_id.into())
            .await
            .unwrap();
        assert_eq!(order.provider, "sandbox");
        assert_eq!(order.amount_fen, 2_000);
        assert_eq!(order.account_id, app.seeded.a.account);

        // The sandbox page shows the order and leads back to the door page.
        let (status, page) = app.get(&client, &location).await;
        assert_eq!(status, 200);
        assert!(page.contains("¥20.00"), "{page}");
        assert!(page.contains(&format!("id=\"back\" href=\"/t/{no}\"")));
    }
}
