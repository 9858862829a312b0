//! Property management as a manager uses it: create, find, change and delete sites, buildings,
//! units, tenants, accounts, tariffs, gateways and meters.

use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::support::spawn_apps;

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn a_manager_sets_up_a_building_and_opens_an_account() {
    for app in spawn_apps().await {
        let t = app.access_token(&app.admin_a).await;
        let site = app
            .expect(
                Method::POST,
                "/api/v1/sites",
                &t,
                Some(&json!({"name": "阳光小区", "trip_threshold": "-5.00"})),
                201,
            )
            .await;
        assert_eq!(site["timezone"], "Asia/Shanghai");
        assert_eq!(site["alarm_threshold"], "20.00");
        assert_eq!(site["trip_threshold"], "-5.00");
        let b = app
            .expect(
                Method::POST,
                "/api/v1/buildings",
                &t,
                Some(&json!({"site_id": site["id"], "name": "1号楼"})),
                201,
            )
            .await;
        let u = app
            .expect(
                Method::POST,
                "/api/v1/units",
                &t,
                Some(&json!({"building_id": b["id"], "name": "1-101", "kind": "shop"})),
                201,
            )
            .await;
        let tenant = app
            .expect(
                Method::POST,
                "/api/v1/tenants",
                &t,
                Some(&json!({"name": "李四", "phone": "13911112222"})),
                201,
            )
            .await;
        let acc = app
            .expect(Method::POST, "/api/v1/accounts", &t,
                Some(&json!({"unit_id": u["id"], "tenant_id": tenant["id"], "opening_balance": "12.5"})),
                201)
            .await;
        assert_eq!(acc["balance"], "12.50");
        assert_eq!(acc["state"], "normal");
        assert_eq!(acc["status"], "open");
        assert_eq!(acc["protected"], false);
        assert_eq!(acc["relay"], "unknown");

        // Found by the number on the door sticker.
        let no = acc["account_no"].as_str().unwrap();
        let found = app
            .expect(
                Method::GET,
                &format!("/api/v1/accounts?account_no={no}"),
                &t,
                None,
                200,
            )
            .await;
        assert_eq!(found["total"], 1);
        assert_eq!(found["items"][0]["id"], acc["id"]);
        let ledger = app
            .expect(
                Method::GET,
                &format!("/api/v1/accounts/{}/ledger", acc["id"].as_str().unwrap()),
                &t,
                None,
                200,
            )
            .await;
        assert_eq!(ledger["items"][0]["kind"], "opening");
        assert_eq!(ledger["items"][0]["amount"], "12.50");

        // Filters and pagination.
        let units = app
            .expect(
                Method::GET,
                &format!(
                    "/api/v1/units?site_id={}&per_page=1",
                    site["id"].as_str().unwrap()
                ),
                &t,
                None,
                200,
            )
            .await;
        assert_eq!(units["total"], 1);
        assert_eq!(units["per_page"], 1);
        assert_eq!(units["page"], 1);
        let bad = app
            .expect(Method::GET, "/api/v1/sites?per_page=201", &t, None, 400)
            .await;
        assert_eq!(bad["code"], "invalid_page");

        // Protection needs a reason and tells the worker.
        let id = acc["id"].as_str().unwrap();
        let res = app
            .expect(
                Method::PATCH,
                &format!("/api/v1/accounts/{id}"),
                &t,
                Some(&json!({"protected": true})),
                400,
            )
            .await;
        assert_eq!(res["code"], "reason_required");
        let outbox_before = count(
            &app.db,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'account.control_changed'",
        )
        .await;
        let protected = app
            .expect(
                Method::PATCH,
                &format!("/api/v1/accounts/{id}"),
                &t,
                Some(&json!({"protected": true, "reason": "老人独居", "alarm_threshold": "30"})),
                200,
            )
            .await;
        assert_eq!(protected["protected"], true);
        assert_eq!(protected["alarm_threshold"], "30.00");
        let outbox_after = count(
            &app.db,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'account.control_changed'",
        )
        .await;
        assert_eq!(outbox_after, outbox_before + 1);

        // A site with buildings cannot be deleted; an empty one can.
        let in_use = app
            .expect(
                Method::DELETE,
                &format!("/api/v1/sites/{}", site["id"].as_str().unwrap()),
                &t,
                None,
                409,
            )
            .await;
        assert_eq!(in_use["code"], "in_use");
        let empty = app
            .expect(
                Method::POST,
                "/api/v1/sites",
                &t,
                Some(&json!({"name": "空"})),
                201,
            )
            .await;
        app.expect(
            Method::DELETE,
            &format!("/api/v1/sites/{}", empty["id"].as_str().unwrap()),
            &t,
            None,
            204,
        )
        .await;
        app.expect(
            Method::GET,
            &format!("/api/v1/sites/{}", empty["id"].as_str().unwrap()),
            &t,
            None,
            404,
        )
        .await;

        // Every change is in the audit log.
        let audited = count(&app.db, "SELECT COUNT(*) FROM audit_log WHERE action IN ('site.create', 'account.open', 'site.delete')").await;
        assert!(audited >= 4, "audited {audited}");
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_stable_codes_and_writes_nothing() {
    for app in spawn_apps().await {
        let t = app.access_token(&app.admin_a).await;
        let sites_before = count(&app.db, "SELECT COUNT(*) FROM sites").await;
        let cases = [
            (
                json!({"name": "x", "alarm_threshold": "1.234"}),
                "invalid_amount",
            ),
            (
                json!({"name": "x", "alarm_threshold": "-"}),
                "invalid_amount",
            ),
            (
                json!({"name": "x", "timezone": "Mars/Base"}),
                "invalid_timezone",
            ),
            (json!({"name": "  "}), "invalid_name"),
            (json!({"name": "x", "colour": "red"}), "invalid_body"),
            (
                json!({"name": "x", "alarm_threshold": "1", "trip_threshold": "2"}),
                "invalid_thresholds",
            ),
        ];
        for (body, code) in cases {
            let res = app
                .call(Method::POST, "/api/v1/sites", &t, Some(&body))
                .await;
            assert!(res.status().is_client_error(), "{body}");
            let problem: serde_json::Value = res.json().await.unwrap();
            assert_eq!(problem["code"], code, "{body}");
        }
        let acc = app
            .call(
                Method::POST,
                "/api/v1/accounts",
                &t,
                Some(&json!({"unit_id": app.seeded.a.unit, "opening_balance": "-3"})),
            )
            .await;
        assert_eq!(acc.status(), 400);
        let bad_id = app
            .call(Method::GET, "/api/v1/sites/not-a-uuid", &t, None)
            .await;
        assert_eq!(bad_id.status(), 400);
        assert_eq!(
            count(&app.db, "SELECT COUNT(*) FROM sites").await,
            sites_before
        );
    }
}

#[tokio::test]
async fn tariffs_are_validated_by_the_domain_rules() {
    for app in spawn_apps().await {
        let t = app.access_token(&app.admin_a).await;
        let tariff = app
            .expect(
                Method::POST,
                "/api/v1/tariffs",
                &t,
                Some(&json!({"name": "居民"})),
                201,
            )
            .await;
        let path = format!(
            "/api/v1/tariffs/{}/versions",
            tariff["id"].as_str().unwrap()
        );
        let flat = json!({"effective_from": "2026-01-01T00:00:00Z", "pricing": {"kind": "flat", "price": "0.538"}});
        let v = app.expect(Method::POST, &path, &t, Some(&flat), 201).await;
        assert_eq!(v["definition"]["pricing"]["price"], "0.538");
        let dup = app.expect(Method::POST, &path, &t, Some(&flat), 409).await;
        assert_eq!(dup["code"], "already_exists");
        let negative = json!({"effective_from": "2026-02-01T00:00:00Z", "pricing": {"kind": "flat", "price": "-1"}});
        let bad = app
            .expect(Method::POST, &path, &t, Some(&negative), 422)
            .await;
        assert_eq!(bad["code"], "invalid_tariff");
        let listed = app.expect(Method::GET, &path, &t, None, 200).await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_gateway_gets_its_mqtt_password_once_and_meter_changes_reach_the_worker() {
    for app in spawn_apps().await {
        let t = app.access_token(&app.admin_a).await;
        let gw = app
            .expect(Method::POST, "/api/v1/gateways", &t,
                Some(&json!({"site_id": app.seeded.a.site, "gateway_id": "gw-test01", "name": "东门"})), 201)
            .await;
        let password = gw["mqtt_password"].as_str().unwrap();
        assert_eq!(gw["mqtt_username"], "gw-test01");
        assert!(password.len() >= 20);
        let gw_id: uuid::Uuid = gw["id"].as_str().unwrap().parse().unwrap();
        let stored = store::gateway::get(&app.db, app.org_a, gw_id.into())
            .await
            .unwrap();
        let hash = stored.mqtt_password_hash.unwrap();
        assert!(hash.starts_with("$7$"), "{hash}");
        assert!(api::mqtt_password::verify(password, &hash));
        let shown = app
            .expect(
                Method::GET,
                &format!("/api/v1/gateways/{gw_id}"),
                &t,
                None,
                200,
            )
            .await;
        assert!(shown.get("mqtt_password").is_none());
        let taken = app
            .expect(Method::POST, "/api/v1/gateways", &t,
                Some(&json!({"site_id": app.seeded.a.site, "gateway_id": "gw-test01", "name": "again"})), 409)
            .await;
        assert_eq!(taken["code"], "already_exists");

        let before = count(
            &app.db,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'gateway.config_changed'",
        )
        .await;
        let meter = app
            .expect(
                Method::POST,
                "/api/v1/meters",
                &t,
                Some(
                    &json!({"gateway_id": gw_id, "unit_id": app.seeded.a.unit, "bus": "rs485-1",
                    "slave": 1, "wire_id": "m-101", "model": "acrel-ddsy1352", "ct_ratio": "40"}),
                ),
                201,
            )
            .await;
        assert_eq!(meter["account_id"], app.seeded.a.account.to_string());
        assert_eq!(meter["relay"], "unknown");
        assert_eq!(meter["ct_ratio"], "40");
        let m = meter["id"].as_str().unwrap();
        app.expect(
            Method::PATCH,
            &format!("/api/v1/meters/{m}"),
            &t,
            Some(&json!({"slave": 2})),
            200,
        )
        .await;
        let by_account = app
            .expect(
                Method::GET,
                &format!("/api/v1/meters?account_id={}", app.seeded.a.account),
                &t,
                None,
                200,
            )
            .await;
        assert_eq!(by_account["total"], 1);
        app.expect(
            Method::DELETE,
            &format!("/api/v1/meters/{m}"),
            &t,
            None,
            204,
        )
        .await;
        let after = count(
            &app.db,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'gateway.config_changed'",
        )
        .await;
        assert_eq!(after, before + 3);
        let bad = app
            .expect(Method::POST, "/api/v1/meters", &t,
                Some(&json!({"gateway_id": gw_id, "bus": "rs485-1", "slave": 300, "wire_id": "m-1", "model": "x"})), 400)
            .await;
        assert_eq!(bad["code"], "invalid_slave");
    }
}
