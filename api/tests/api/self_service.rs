//! Tenant self-service and the public door endpoint: a tenant sees exactly their own accounts,
//! live from the cache or from the database, and never another tenant's; the door endpoint
//! shows only balance, power, masked name and unit.

use domain::{Energy, Money};
use reqwest::Method;
use serde_json::{json, Value};
use store::live::LiveSnapshot;

use crate::support::{spawn_apps, TestApp};

/// A second tenant of organization A with their own unit and account: (account id, account no).
async fn second_tenant(app: &TestApp, phone: &str) -> (String, String) {
    let t = app.access_token(&app.admin_a).await;
    let unit = app
        .expect(
            Method::POST,
            "/api/v1/units",
            &t,
            Some(&json!({"building_id": app.seeded.a.building, "name": "102", "kind": "shop"})),
            201,
        )
        .await;
    let tenant = app
        .expect(
            Method::POST,
            "/api/v1/tenants",
            &t,
            Some(&json!({"name": "李四", "phone": phone})),
            201,
        )
        .await;
    let acc = app
        .expect(Method::POST, "/api/v1/accounts", &t,
            Some(&json!({"unit_id": unit["id"], "tenant_id": tenant["id"], "opening_balance": "12.50"})), 201)
        .await;
    (
        acc["id"].as_str().unwrap().to_owned(),
        acc["account_no"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_tenant_sees_only_their_own_accounts() {
    for app in spawn_apps().await {
        let (mine, _) = second_tenant(&app, "13900000002").await;
        let t = app.tenant_token("13900000002").await;
        let list = app
            .expect(Method::GET, "/api/v1/me/accounts", &t, None, 200)
            .await;
        assert_eq!(list["total"], 1);
        assert_eq!(list["items"][0]["id"], mine.as_str());
        assert_eq!(list["items"][0]["balance"], "12.50");
        assert_eq!(list["items"][0]["unit"], "Building 1 102");

        // The seeded tenants' accounts (another tenant of the same organization, and one of
        // another organization) answer 404 on every route, like unknown ids.
        let others = [
            app.seeded.a.account.to_string(),
            app.seeded.b.account.to_string(),
            uuid::Uuid::now_v7().to_string(),
        ];
        for other in &others {
            for suffix in ["", "/usage", "/ledger"] {
                let path = format!("/api/v1/me/accounts/{other}{suffix}");
                let body = app.expect(Method::GET, &path, &t, None, 404).await;
                assert_eq!(body["code"], "account_not_found", "{path}");
            }
        }

        // One phone with accounts in two organizations (a home and a shop) sees both.
        let both = app.tenant_token("13800000000").await;
        let list = app
            .expect(Method::GET, "/api/v1/me/accounts", &both, None, 200)
            .await;
        let ids: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&others[0].as_str()) && ids.contains(&others[1].as_str()));
        assert!(!ids.contains(&mine.as_str()));

        // A phone number given to someone else stops working at once.
        let manager = app.access_token(&app.admin_a).await;
        app.expect(
            Method::PATCH,
            &format!("/api/v1/tenants/{}", app.seeded.a.tenant),
            &manager,
            Some(&json!({"phone": "13700000000"})),
            200,
        )
        .await;
        app.expect(
            Method::GET,
            &format!("/api/v1/me/accounts/{}", others[0]),
            &both,
            None,
            404,
        )
        .await;
    }
}

#[tokio::test]
async fn account_detail_is_live_with_database_fallback_and_usage_and_ledger() {
    for app in spawn_apps().await {
        let (mine, _) = second_tenant(&app, "13900000003").await;
        let t = app.tenant_token("13900000003").await;
        let path = format!("/api/v1/me/accounts/{mine}");
        let a = app.expect(Method::GET, &path, &t, None, 200).await;
        assert_eq!(a["source"], "database");
        assert_eq!(a["balance"], "12.50");
        assert_eq!(a["power"], "on");
        assert_eq!(a["relay"], "unknown");

        let account_id: store::AccountId = mine.parse().unwrap();
        let snapshot = LiveSnapshot {
            account_id,
            organization_id: app.org_a,
            balance: Money::from_fen(4_200),
            cc_state: "alarmed".into(),
            relay: Some("closed".into()),
            last_reading_at: Some(chrono::Utc::now()),
            today_kwh: Energy::from_wh(1_500),
            today_cost: Money::from_fen(81),
            updated_at: chrono::Utc::now(),
        };
        app.live.put(&snapshot).await.unwrap();
        let a = app.expect(Method::GET, &path, &t, None, 200).await;
        assert_eq!(a["source"], "cache");
        assert_eq!(a["balance"], "42.00");
        assert_eq!(a["state"], "alarmed");
        assert_eq!(a["power"], "soon_off");
        assert_eq!(a["relay"], "closed");
        assert_eq!(a["today_kwh"], "1.500");
        assert_eq!(a["today_cost"], "0.81");

        // A snapshot claiming another organization is not trusted.
        app.live
            .put(&LiveSnapshot {
                organization_id: app.org_b,
                ..snapshot
            })
            .await
            .unwrap();
        let a = app.expect(Method::GET, &path, &t, None, 200).await;
        assert_eq!(a["source"], "database");

        // Usage: every day of the range, as charged.
        let manager = app.access_token(&app.admin_a).await;
        let gw = app
            .expect(
                Method::POST,
                "/api/v1/gateways",
                &manager,
                Some(
                    &json!({"site_id": app.seeded.a.site, "gateway_id": "gw-usage1", "name": "g"}),
                ),
                201,
            )
            .await;
        let meter = app
            .expect(Method::POST, "/api/v1/meters", &manager,
                Some(&json!({"gateway_id": gw["id"], "bus": "rs485-1", "slave": 1, "wire_id": "m-1", "model": "acrel-ddsy1352"})), 201)
            .await;
        let meter_id: store::MeterId = meter["id"].as_str().unwrap().parse().unwrap();
        let today = chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .date_naive();
        let yesterday = today.pred_opt().unwrap();
        for (day, wh, fen) in [(today, 1_500, 81), (yesterday, 2_250, 121)] {
            store::daily::add_usage(
                &app.db,
                app.org_a,
                meter_id,
                Some(account_id),
                &day.format("%Y-%m-%d").to_string(),
                wh,
                fen,
            )
            .await
            .unwrap();
        }
        let usage = app
            .expect(Method::GET, &format!("{path}/usage?days=7"), &t, None, 200)
            .await;
        let days = usage["days"].as_array().unwrap();
        assert_eq!(days.len(), 7);
        assert_eq!(days[6]["date"], today.format("%Y-%m-%d").to_string());
        assert_eq!(days[6]["kwh"], "1.500");
        assert_eq!(days[5]["cost"], "1.21");
        assert_eq!(days[0]["kwh"], "0.000");
        assert_eq!(usage["total_kwh"], "3.750");
        assert_eq!(usage["total_cost"], "2.02");
        app.expect(Method::GET, &format!("{path}/usage?days=0"), &t, None, 400)
            .await;

        let ledger = app
            .expect(Method::GET, &format!("{path}/ledger"), &t, None, 200)
            .await;
        assert_eq!(ledger["total"], 1);
        assert_eq!(ledger["items"][0]["kind"], "opening");
        assert_eq!(ledger["items"][0]["amount"], "12.50");
    }
}

#[tokio::test]
async fn notification_preferences_round_trip() {
    for app in spawn_apps().await {
        let t = app.tenant_token("13800000000").await;
        let p = app
            .expect(Method::GET, "/api/v1/me/preferences", &t, None, 200)
            .await;
        let defaults = json!({"low_balance": true, "power_events": true, "payment_receipts": true,
            "language": null, "email": null, "channels": {}, "wechat_bound": false});
        assert_eq!(p, defaults);
        let new = json!({"low_balance": true, "power_events": false, "payment_receipts": false});
        app.expect(Method::PUT, "/api/v1/me/preferences", &t, Some(&new), 200)
            .await;
        let p = app
            .expect(Method::GET, "/api/v1/me/preferences", &t, None, 200)
            .await;
        assert_eq!(p["power_events"], false);
        assert_eq!(p["payment_receipts"], false);
        assert_eq!(p["channels"], json!({}));
        // How: language, mail address and channels per kind; what is not sent stays.
        let how = json!({"low_balance": true, "power_events": true, "payment_receipts": false,
            "language": "en", "email": "zhang@example.com",
            "channels": {"power_events": ["sms", "email"]}});
        app.expect(Method::PUT, "/api/v1/me/preferences", &t, Some(&how), 200)
            .await;
        let kinds_only =
            json!({"low_balance": false, "power_events": true, "payment_receipts": false});
        let p = app
            .expect(
                Method::PUT,
                "/api/v1/me/preferences",
                &t,
                Some(&kinds_only),
                200,
            )
            .await;
        assert_eq!(p["low_balance"], false);
        assert_eq!(p["language"], "en");
        assert_eq!(p["email"], "zhang@example.com");
        assert_eq!(p["channels"], json!({"power_events": ["sms", "email"]}));
        let d = store::tenant_preference::delivery(&app.db, "13800000000")
            .await
            .unwrap();
        assert_eq!(d.language.as_deref(), Some("en"));
        let cleared = json!({"low_balance": true, "power_events": true, "payment_receipts": true,
            "email": ""});
        let p = app
            .expect(
                Method::PUT,
                "/api/v1/me/preferences",
                &t,
                Some(&cleared),
                200,
            )
            .await;
        assert_eq!(p["email"], Value::Null);
        app.expect(
            Method::PUT,
            "/api/v1/me/preferences",
            &t,
            Some(&json!({"low_balance": "yes"})),
            400,
        )
        .await;
        for bad in [
            json!({"language": "fr"}),
            json!({"email": "not an address"}),
            json!({"channels": {"power_events": ["pigeon"]}}),
            json!({"channels": {"weather": ["sms"]}}),
        ] {
            let mut body =
                json!({"low_balance": true, "power_events": true, "payment_receipts": true});
            body.as_object_mut()
                .unwrap()
                .extend(bad.as_object().unwrap().clone());
            let problem = app
                .expect(Method::PUT, "/api/v1/me/preferences", &t, Some(&body), 400)
                .await;
            assert_eq!(problem["code"], "invalid_preferences", "{bad}");
        }
        // Refused changes changed nothing.
        let p = app
            .expect(Method::GET, "/api/v1/me/preferences", &t, None, 200)
            .await;
        assert_eq!(
            (p["language"].clone(), p["email"].clone()),
            (json!("en"), Value::Null)
        );
    }
}

#[tokio::test]
async fn the_door_endpoint_shows_balance_power_masked_name_and_unit_only() {
    for app in spawn_apps().await {
        let (_, no) = second_tenant(&app, "13900000004").await;
        let res = app
            .client
            .get(app.url(&format!("/api/v1/public/accounts/{no}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body,
            json!({"account_no": no, "balance": "12.50", "power": "on", "tenant": "李*",
                   "unit": "Building 1 102"})
        );
        for bad in ["0000000000", "not-a-number"] {
            let res = app
                .client
                .get(app.url(&format!("/api/v1/public/accounts/{bad}")))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 404);
        }
    }
}
