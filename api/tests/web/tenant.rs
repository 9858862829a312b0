//! The tenant's own pages: phone sign-in with a one-time code read from the outbox (as a tenant
//! reads an SMS), the privacy consent, rate limits, the accounts of the phone (a home and a
//! shop), the usage chart, the ledger with receipts, preferences, and the door page's "days
//! left" and link to the owner's page.

use domain::Money;

use crate::support::{csrf_of, hidden, spawn_webs, WebApp};

pub const PHONE: &str = "13800000000";

/// What a tenant's browser does to sign in: phone, code from the SMS, consent if asked.
/// Answers the client, signed in.
pub async fn tenant_signed_in(app: &WebApp) -> reqwest::Client {
    let client = app.client();
    let (_, html) = app.get(&client, "/t/login").await;
    let csrf = csrf_of(&html);
    let res = app
        .post(
            &client,
            "/t/login",
            &[("csrf", &csrf), ("phone", PHONE), ("next", "/t/me")],
        )
        .await;
    let status = res.status();
    assert_eq!(
        status,
        200,
        "{}: {}",
        app.backend,
        res.text().await.unwrap()
    );
    let code = app.sms_code(PHONE);
    let res = app
        .post(
            &client,
            "/t/login/verify",
            &[
                ("csrf", &csrf),
                ("phone", PHONE),
                ("code", &code),
                ("consent", "1"),
                ("asked", "1"),
                ("next", "/t/me"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", app.backend);
    client
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

async fn charge(app: &WebApp, org: store::OrgId, id: store::AccountId, fen: i64, key: &str) {
    store::ledger::post_ledger_entry(
        &app.db,
        org,
        store::ledger::NewEntry {
            account_id: id,
            kind: store::LedgerKind::Charge,
            amount: Money::from_fen(fen),
            idempotency_key: key.to_owned(),
            corrects: None,
            memo: None,
            created_by: None,
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_tenant_signs_in_with_a_code_and_consents_once() {
    for app in spawn_webs().await {
        let client = app.client();
        // Signed out, the tenant's pages send to the sign-in page and back.
        let res = client.get(app.url("/t/me")).send().await.unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/t/login?next=/t/me");

        let (status, html) = app.get(&client, "/t/login?lang=zh").await;
        assert_eq!(status, 200);
        assert!(
            html.contains("<label for=\"phone\">手机号</label>"),
            "{html}"
        );
        let csrf = csrf_of(&html);

        // A malformed phone: the error sits next to the field, nothing is sent.
        let res = app
            .post(&client, "/t/login", &[("csrf", &csrf), ("phone", "12a")])
            .await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"phone-error\""), "{html}");
        assert!(html.contains("请输入有效的手机号"));
        assert!(html.contains("aria-invalid=\"true\""));
        assert_eq!(app.sms_count(), 0);

        // A phone without accounts gets the same answer, and no SMS.
        let res = app
            .post(
                &client,
                "/t/login",
                &[("csrf", &csrf), ("phone", "13912345678")],
            )
            .await;
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("139****5678"));
        assert_eq!(app.sms_count(), 0);

        let res = app
            .post(
                &client,
                "/t/login",
                &[("csrf", &csrf), ("phone", "138 0000 0000")],
            )
            .await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(html.contains("138****0000"), "{html}");
        assert!(html.contains("id=\"code\""));
        assert_eq!(hidden(&html, "phone"), PHONE);
        let code = app.sms_code(PHONE);

        // A wrong code: said next to the code field.
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let res = app
            .post(
                &client,
                "/t/login/verify",
                &[("csrf", &csrf), ("phone", PHONE), ("code", wrong)],
            )
            .await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"code-error\""));
        assert!(html.contains("验证码错误或已过期"), "{html}");

        // The right code at the first sign-in: the privacy notice must be accepted first.
        let res = app
            .post(
                &client,
                "/t/login/verify",
                &[("csrf", &csrf), ("phone", PHONE), ("code", &code)],
            )
            .await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(html.contains("隐私声明"), "{html}");
        assert!(html.contains("id=\"consent-error\""));
        assert!(store::tenant_login::consent_of(&app.db, PHONE)
            .await
            .unwrap()
            .is_none());
        // Asked, and still not ticked: asked again.
        let res = app
            .post(
                &client,
                "/t/login/verify",
                &[
                    ("csrf", &csrf),
                    ("phone", PHONE),
                    ("code", &code),
                    ("asked", "1"),
                ],
            )
            .await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("id=\"consent-error\""));

        let res = app
            .post(
                &client,
                "/t/login/verify",
                &[
                    ("csrf", &csrf),
                    ("phone", PHONE),
                    ("code", &code),
                    ("consent", "1"),
                    ("asked", "1"),
                    ("next", "/t/me"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", app.backend);
        assert_eq!(location(&res), "/t/me");
        let set_cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("wp_tenant="))
            .expect("session cookie");
        assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
        assert!(set_cookie.contains("SameSite=Lax"));
        assert!(store::tenant_login::consent_of(&app.db, PHONE)
            .await
            .unwrap()
            .is_some());
        // A used code does not sign in twice.
        let again = app.client();
        let (_, html) = app.get(&again, "/t/login").await;
        let csrf2 = csrf_of(&html);
        let res = app
            .post(
                &again,
                "/t/login/verify",
                &[("csrf", &csrf2), ("phone", PHONE), ("code", &code)],
            )
            .await;
        assert_eq!(res.status(), 422);

        // Signed in: the accounts page. Sign out: back to signing in.
        let (status, _) = app.get(&client, "/t/me").await;
        assert_eq!(status, 200);
        let (_, html) = app.get(&client, "/t/me").await;
        let res = app
            .post(&client, "/t/logout", &[("csrf", &csrf_of(&html))])
            .await;
        assert_eq!(res.status(), 303);
        let res = client.get(app.url("/t/me")).send().await.unwrap();
        assert_eq!(res.status(), 303);

        // The second sign-in does not ask for consent again.
        let (_, html) = app.get(&client, "/t/login").await;
        let csrf = csrf_of(&html);
        app.post(&client, "/t/login", &[("csrf", &csrf), ("phone", PHONE)])
            .await;
        let code = app.sms_code(PHONE);
        let res = app
            .post(
                &client,
                "/t/login/verify",
                &[("csrf", &csrf), ("phone", PHONE), ("code", &code)],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", app.backend);
    }
}

#[tokio::test]
async fn too_many_codes_say_when_to_try_again() {
    for app in spawn_webs().await {
        let client = app.client();
        let (_, html) = app.get(&client, "/t/login?lang=en").await;
        let csrf = csrf_of(&html);
        let mut last = None;
        // The default allows 5 codes per phone in the window.
        for _ in 0..6 {
            last = Some(
                app.post(&client, "/t/login", &[("csrf", &csrf), ("phone", PHONE)])
                    .await,
            );
        }
        let res = last.unwrap();
        assert_eq!(res.status(), 429, "{}", app.backend);
        let html = res.text().await.unwrap();
        assert!(
            html.contains("Too many attempts; try again in 10 minutes"),
            "{html}"
        );
        assert_eq!(app.sms_count(), 5);
    }
}

#[tokio::test]
async fn the_phone_sees_its_home_and_shop_and_nobody_elses() {
    for app in spawn_webs().await {
        // Another tenant of organization A, with another phone.
        let org = app.seeded.a.org;
        let unit = store::unit::create(
            &app.db,
            org,
            app.seeded.a.building,
            "102",
            store::UnitKind::Shop,
        )
        .await
        .unwrap();
        let other = store::tenant::create(&app.db, org, "Li Si", Some("13900000000"))
            .await
            .unwrap();
        let theirs = store::account::open_account(
            &app.db,
            org,
            store::account::NewAccount {
                unit_id: unit.id,
                tenant_id: Some(other.id),
                tariff_id: None,
                initial_balance: Money::from_fen(7_700),
                created_by: None,
            },
        )
        .await
        .unwrap();

        let client = tenant_signed_in(&app).await;
        let (status, html) = app.get(&client, "/t/me?lang=zh").await;
        assert_eq!(status, 200);
        // Both organizations' accounts of the phone (seeded ¥100 and ¥50), not the other's.
        assert!(html.contains("org-a"), "{html}");
        assert!(html.contains("org-b"));
        assert!(html.contains("¥100.00") && html.contains("¥50.00"));
        assert!(!html.contains("¥77.00"));
        let a = app.seeded.a.account;
        let b = app.seeded.b.account;
        assert!(html.contains(&format!("/t/me/{a}")));
        assert!(html.contains(&format!("/t/me/{b}")));

        // The account page has a switcher to the other account.
        let (status, html) = app.get(&client, &format!("/t/me/{a}")).await;
        assert_eq!(status, 200);
        assert!(
            html.contains(&format!("<a href=\"/t/me/{a}\" aria-current=\"page\">")),
            "{html}"
        );
        assert!(html.contains(&format!("<a href=\"/t/me/{b}\">")));
        assert!(html.contains("<span data-live=\"balance\">100.00</span>"));
        let (status, html) = app.get(&client, &format!("/t/me/{b}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("<span data-live=\"balance\">50.00</span>"));

        // Another phone's account, or no account: 404, as the API answers.
        let (status, html) = app.get(&client, &format!("/t/me/{}", theirs.id)).await;
        assert_eq!(status, 404);
        assert!(!html.contains("77.00"));
        let (status, _) = app.get(&client, "/t/me/not-an-id").await;
        assert_eq!(status, 404);
    }
}

#[tokio::test]
async fn the_account_page_shows_usage_ledger_receipts_and_preferences() {
    for app in spawn_webs().await {
        let (org, a) = (app.seeded.a.org, app.seeded.a.account);
        // Today's rated use of the unit's meter, as the worker records it.
        let gw = store::gateway::create(
            &app.db,
            org,
            store::gateway::NewGateway {
                site_id: app.seeded.a.site,
                gateway_id: "gw-tenant".into(),
                name: "DTU".into(),
                mqtt_password_hash: None,
            },
        )
        .await
        .unwrap();
        let meter = store::meter::create(
            &app.db,
            org,
            store::meter::NewMeter {
                gateway_id: gw.id,
                unit_id: Some(app.seeded.a.unit),
                bus: "rs485-1".into(),
                slave: 1,
                wire_id: "m-301".into(),
                model: None,
                register_map: None,
                ct_ratio: rust_decimal::Decimal::ONE,
                max_power_kw: rust_decimal::Decimal::from(20),
            },
        )
        .await
        .unwrap();
        let today = chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .format("%Y-%m-%d")
            .to_string();
        store::daily::add_usage(&app.db, org, meter.id, Some(a), &today, 12_500, 675)
            .await
            .unwrap();
        charge(&app, org, a, -675, "tenant-page-charge").await;
        let topup = store::ledger::post_ledger_entry(
            &app.db,
            org,
            store::ledger::NewEntry {
                account_id: a,
                kind: store::LedgerKind::Topup,
                amount: Money::from_fen(5_000),
                idempotency_key: "tenant-page-topup".to_owned(),
                corrects: None,
                memo: Some("WeChat Pay".to_owned()),
                created_by: None,
            },
        )
        .await
        .unwrap();
        let topup_id = topup.entry.id.0;

        let client = crate::tenant::tenant_signed_in(&app).await;
        let (status, html) = app.get(&client, &format!("/t/me/{a}?lang=zh")).await;
        assert_eq!(status, 200, "{}", app.backend);
        assert!(html.contains("<svg role=\"img\" aria-label=\"近 30 天每日用电量与电费\""));
        assert!(html.contains("合计 12.500 千瓦时，¥6.75"), "{html}");
        assert!(html.contains("<td class=\"num\">12.500</td><td class=\"num\">¥6.75</td>"));
        // The ledger: top-up, charge and opening, newest first; receipts for money paid in.
        let ledger = &html[html.find("id=\"ledger\"").unwrap()..];
        let topup_at = ledger.find("充值").unwrap();
        let charge_at = ledger.find("电费").unwrap();
        let opening_at = ledger.find("开户").unwrap();
        assert!(topup_at < charge_at && charge_at < opening_at, "{ledger}");
        assert!(ledger.contains("143.25"));
        let receipt = format!("/t/me/{a}/receipts/{topup_id}");
        assert!(html.contains(&receipt));
        let (status, html) = app.get(&client, &receipt).await;
        assert_eq!(status, 200);
        assert!(html.contains("¥50.00") && html.contains("org-a"), "{html}");
        assert!(html.contains("WeChat Pay"));
        // Not a receipt of another account, nor of a charge.
        let b = app.seeded.b.account;
        let (status, _) = app
            .get(&client, &format!("/t/me/{b}/receipts/{topup_id}"))
            .await;
        assert_eq!(status, 404);

        // Preferences: all on by default; untick two and save.
        let (_, html) = app.get(&client, &format!("/t/me/{a}")).await;
        assert!(html.contains("<label class=\"check\" for=\"pref-low_balance\">"));
        assert_eq!(html.matches("value=\"1\" checked").count(), 3, "{html}");
        let res = app
            .post(
                &client,
                "/t/me/preferences",
                &[
                    ("csrf", &csrf_of(&html)),
                    ("back", &a.to_string()),
                    ("low_balance", "1"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), format!("/t/me/{a}?saved=1#preferences"));
        let p = store::tenant_preference::get(&app.db, PHONE).await.unwrap();
        assert!(p.low_balance && !p.power_events && !p.payment_receipts);
        let (_, html) = app.get(&client, &format!("/t/me/{a}?saved=1")).await;
        assert!(html.contains("id=\"prefs-saved\""));
        assert_eq!(html.matches("value=\"1\" checked").count(), 1);
        // How to be reached: an impossible address is refused next to its field, changing
        // nothing; a real one is kept with the language.
        let csrf = csrf_of(&html);
        let back = a.to_string();
        let res = app
            .post(
                &client,
                "/t/me/preferences",
                &[
                    ("csrf", &csrf),
                    ("back", &back),
                    ("language", "en"),
                    ("email", "not an address"),
                ],
            )
            .await;
        assert_eq!(
            location(&res),
            format!("/t/me/{a}?pref_error=email#preferences")
        );
        let (_, html) = app
            .get(&client, &format!("/t/me/{a}?pref_error=email"))
            .await;
        assert!(html.contains("id=\"email-error\""), "{html}");
        let d = store::tenant_preference::delivery(&app.db, PHONE)
            .await
            .unwrap();
        assert_eq!(d.language, None);
        assert!(
            store::tenant_preference::get(&app.db, PHONE)
                .await
                .unwrap()
                .low_balance
        );
        let res = app
            .post(
                &client,
                "/t/me/preferences",
                &[
                    ("csrf", &csrf),
                    ("back", &back),
                    ("low_balance", "1"),
                    ("language", "en"),
                    ("email", "zhang@example.com"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
        let d = store::tenant_preference::delivery(&app.db, PHONE)
            .await
            .unwrap();
        assert_eq!(d.language.as_deref(), Some("en"));
        assert_eq!(d.email.as_deref(), Some("zhang@example.com"));
        let (_, html) = app.get(&client, &format!("/t/me/{a}")).await;
        assert!(html.contains("<option value=\"en\" selected>"), "{html}");
        assert!(html.contains("value=\"zhang@example.com\""));
        // Without the CSRF token nothing changes.
        let res = app
            .post(&client, "/t/me/preferences", &[("power_events", "1")])
            .await;
        assert_eq!(res.status(), 403);
        assert!(
            !store::tenant_preference::get(&app.db, PHONE)
                .await
                .unwrap()
                .power_events
        );
    }
}

#[tokio::test]
async fn the_door_page_estimates_days_left_and_links_its_owner() {
    for app in spawn_webs().await {
        let (org, a) = (app.seeded.a.org, app.seeded.a.account);
        // ¥14.00 used in the last two weeks leaves ¥86.00: about 86 days at ¥1 a day.
        charge(&app, org, a, -1_400, "door-days-left").await;
        let no = app.account_no_a().await;
        let anyone = app.client();
        let (_, html) = app.get(&anyone, &format!("/t/{no}?lang=zh")).await;
        assert!(
            html.contains("预计还可用约 86 天"),
            "{}: {html}",
            app.backend
        );
        assert!(html.contains("href=\"/t/login\""));
        assert!(!html.contains("id=\"my-account\"") && !html.contains(&a.to_string()));

        let tenant = tenant_signed_in(&app).await;
        let (_, html) = app.get(&tenant, &format!("/t/{no}?lang=en")).await;
        assert!(html.contains("About 86 days left"));
        // (minijinja escapes the slashes of an interpolated link: `&#x2f;t&#x2f;me&#x2f;...`)
        assert!(
            html.contains("id=\"my-account\"") && html.contains(&a.to_string()),
            "{html}"
        );
    }
}
