//! Charge-control settings at organization, site and account level, and bulk operations.

use domain::Role;
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::support::{spawn_apps, TestApp};
use crate::work_orders::meter_in;

/// How many rows `table` has (both organizations: tests compare before and after).
async fn count(app: &TestApp, table: &str, filter: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE 1 = 1 {filter}");
    app.db
        .query_one(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
}

#[tokio::test]
async fn settings_inherit_account_over_site_over_organization() {
    for app in spawn_apps().await {
        let a = app.seeded.a;
        let admin = app.access_token(&app.admin_a).await;
        let operator = app.token_for_role(app.org_a, Role::Operator).await;
        let viewer = app.token_for_role(app.org_a, Role::Viewer).await;
        let org_path = "/api/v1/control-settings";
        let site_path = format!("/api/v1/sites/{}/control-settings", a.site);
        let account_path = format!("/api/v1/accounts/{}/control-settings", a.account);

        let org = app.expect(Method::GET, org_path, &viewer, None, 200).await;
        assert_eq!(org["effective"]["alarm_threshold"], "20.00", "{org}");
        assert_eq!(org["effective"]["sources"]["alarm_threshold"], "default");
        assert_eq!(org["own"]["alarm_threshold"], Value::Null);

        // Only org admins change the organization's level; viewers change nothing.
        app.expect(
            Method::PUT,
            org_path,
            &operator,
            Some(&json!({"alarm_threshold": "30.00"})),
            403,
        )
        .await;
        app.expect(
            Method::PUT,
            &site_path,
            &viewer,
            Some(&json!({"alarm_threshold": "30.00"})),
            403,
        )
        .await;
        let before = count(&app, "outbox", "AND kind = 'account.control_changed'").await;
        let org = app
            .expect(Method::PUT, org_path, &admin,
                Some(&json!({"alarm_threshold": "30.00", "trip_threshold": "-10.00", "restore_sla_seconds": 120})), 200)
            .await;
        assert_eq!(org["effective"]["trip_threshold"], "-10.00");
        assert_eq!(
            org["effective"]["sources"]["trip_threshold"],
            "organization"
        );
        // The worker hears about every open account the change reaches.
        assert_eq!(
            count(&app, "outbox", "AND kind = 'account.control_changed'").await,
            before + 1
        );

        let site = app
            .expect(Method::GET, &site_path, &viewer, None, 200)
            .await;
        assert_eq!(site["effective"]["alarm_threshold"], "30.00");
        assert_eq!(
            site["effective"]["sources"]["alarm_threshold"],
            "organization"
        );
        let site = app
            .expect(
                Method::PUT,
                &site_path,
                &operator,
                Some(&json!({"alarm_threshold": "25.00"})),
                200,
            )
            .await;
        assert_eq!(site["own"]["alarm_threshold"], "25.00");
        assert_eq!(site["effective"]["sources"]["alarm_threshold"], "site");

        let windows = json!({"times": [{"start": "10:00", "end": "16:00"}], "allow_weekends": false, "allow_holidays": false});
        let acc = app
            .expect(
                Method::PUT,
                &account_path,
                &operator,
                Some(&json!({"trip_threshold": "5.00", "trip_windows": windows})),
                200,
            )
            .await;
        let e = &acc["effective"];
        assert_eq!(
            (
                e["alarm_threshold"].as_str(),
                e["sources"]["alarm_threshold"].as_str()
            ),
            (Some("25.00"), Some("site"))
        );
        assert_eq!(
            (
                e["trip_threshold"].as_str(),
                e["sources"]["trip_threshold"].as_str()
            ),
            (Some("5.00"), Some("account"))
        );
        assert_eq!(
            (
                e["restore_sla_seconds"].as_i64(),
                e["sources"]["restore_sla_seconds"].as_str()
            ),
            (Some(120), Some("organization"))
        );
        assert_eq!(e["trip_windows"], windows);
        // The account's own thresholds are the ones `PATCH /accounts/{id}` shows and sets.
        let account = store::account::get(&app.db, app.org_a, a.account)
            .await
            .unwrap();
        assert_eq!(account.trip_threshold_fen, Some(500));

        // Every bad field at once, nothing changed.
        let p = app
            .expect(Method::PUT, &account_path, &operator,
                Some(&json!({"alarm_threshold": "1.234", "restore_sla_seconds": 0, "trip_windows": {"times": "x"}})), 422)
            .await;
        assert_eq!(p["code"], "invalid_fields");
        let mut fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["alarm_threshold", "restore_sla_seconds", "trip_windows"],
            "{p}"
        );
        // A trip threshold above the alarm threshold in force (the site's 25.00) is refused.
        let p = app
            .expect(
                Method::PUT,
                &account_path,
                &operator,
                Some(&json!({"trip_threshold": "40.00"})),
                422,
            )
            .await;
        assert_eq!(p["errors"][0]["code"], "trip_above_alarm", "{p}");
        let still = app
            .expect(Method::GET, &account_path, &viewer, None, 200)
            .await;
        assert_eq!(still["own"]["trip_threshold"], "5.00");

        // The command route reads the same resolution: the balance (100.00) is at or below a
        // trip threshold of 150.00 set on the account, so a close needs an override.
        app.expect(
            Method::PUT,
            &account_path,
            &operator,
            Some(&json!({"alarm_threshold": "200.00", "trip_threshold": "150.00"})),
            200,
        )
        .await;
        let meter = meter_in(&app, &admin, a.site, a.unit).await;
        let p = app
            .expect(
                Method::POST,
                &format!("/api/v1/meters/{meter}/commands"),
                &operator,
                Some(&json!({"action": "close"})),
                409,
            )
            .await;
        assert_eq!(p["code"], "override_required");
    }
}

#[tokio::test]
async fn bulk_operations_are_all_or_nothing() {
    for app in spawn_apps().await {
        let (a, b) = (app.seeded.a, app.seeded.b);
        let admin = app.access_token(&app.admin_a).await;
        let tariff = app
            .expect(
                Method::POST,
                "/api/v1/tariffs",
                &admin,
                Some(&json!({"name": "flat"})),
                201,
            )
            .await;
        let tariff = tariff["id"].as_str().unwrap();

        // Tariff: B's unit among A's makes the whole request 404, nothing changes.
        let p = app
            .expect(
                Method::POST,
                "/api/v1/bulk/tariff",
                &admin,
                Some(&json!({"unit_ids": [a.unit, b.unit], "tariff_id": tariff})),
                404,
            )
            .await;
        assert_eq!(p["code"], "unit_not_found");
        assert_eq!(
            store::account::get(&app.db, app.org_a, a.account)
                .await
                .unwrap()
                .tariff_id,
            None
        );
        app.expect(
            Method::POST,
            "/api/v1/bulk/tariff",
            &admin,
            Some(&json!({"unit_ids": [a.unit], "site_id": a.site, "tariff_id": tariff})),
            400,
        )
        .await;
        let done = app
            .expect(
                Method::POST,
                "/api/v1/bulk/tariff",
                &admin,
                Some(&json!({"site_id": a.site, "tariff_id": tariff})),
                200,
            )
            .await;
        assert_eq!(done["updated"], 1, "{done}");
        assert_eq!(done["items"][0]["account_id"], a.account.to_string());
        assert_eq!(
            store::account::get(&app.db, app.org_a, a.account)
                .await
                .unwrap()
                .tariff_id
                .map(|t| t.to_string())
                .as_deref(),
            Some(tariff)
        );

        // Control settings: given fields set, others kept; B's account → 404.
        let p = app
            .expect(Method::POST, "/api/v1/bulk/control-settings", &admin,
                Some(&json!({"account_ids": [a.account, b.account], "settings": {"alarm_threshold": "50.00"}})), 404)
            .await;
        assert_eq!(p["code"], "account_not_found");
        let p = app
            .expect(
                Method::POST,
                "/api/v1/bulk/control-settings",
                &admin,
                Some(&json!({"account_ids": [a.account], "settings": {"alarm_threshold": "x"}})),
                422,
            )
            .await;
        assert_eq!(p["errors"][0]["field"], "settings.alarm_threshold");
        app.expect(
            Method::POST,
            "/api/v1/bulk/control-settings",
            &admin,
            Some(&json!({"account_ids": [a.account], "settings": {"trip_threshold": "-5.00"}})),
            200,
        )
        .await;
        let done = app
            .expect(
                Method::POST,
                "/api/v1/bulk/control-settings",
                &admin,
                Some(&json!({"site_id": a.site, "settings": {"alarm_threshold": "50.00"}})),
                200,
            )
            .await;
        assert_eq!(done["items"].as_array().unwrap().len(), 1);
        let account = store::account::get(&app.db, app.org_a, a.account)
            .await
            .unwrap();
        assert_eq!(
            (account.alarm_threshold_fen, account.trip_threshold_fen),
            (Some(5000), Some(-500))
        );

        // Commands: B's meter → 404 and nothing queued; a protected account → 422, nothing queued.
        let m1 = meter_in(&app, &admin, a.site, a.unit).await;
        let b_admin = app.access_token(&app.admin_b).await;
        let mb = meter_in(&app, &b_admin, b.site, b.unit).await;
        let p = app
            .expect(
                Method::POST,
                "/api/v1/bulk/commands",
                &admin,
                Some(&json!({"meter_ids": [m1, mb], "action": "trip"})),
                404,
            )
            .await;
        assert_eq!(p["code"], "meter_not_found");
        assert_eq!(count(&app, "commands", "").await, 0);
        app.expect(
            Method::POST,
            "/api/v1/bulk/commands",
            &admin,
            Some(&json!({"meter_ids": [m1], "action": "read_now"})),
            400,
        )
        .await;
        app.expect(
            Method::PATCH,
            &format!("/api/v1/accounts/{}", a.account),
            &admin,
            Some(&json!({"protected": true, "reason": "hospital"})),
            200,
        )
        .await;
        let p = app
            .expect(
                Method::POST,
                "/api/v1/bulk/commands",
                &admin,
                Some(&json!({"account_ids": [a.account], "action": "trip"})),
                422,
            )
            .await;
        assert_eq!(
            (p["code"].as_str(), p["errors"][0]["code"].as_str()),
            (Some("bulk_rejected"), Some("account_protected"))
        );
        assert_eq!(count(&app, "commands", "").await, 0);
        app.expect(
            Method::PATCH,
            &format!("/api/v1/accounts/{}", a.account),
            &admin,
            Some(&json!({"protected": false, "reason": "done"})),
            200,
        )
        .await;
        let done = app
            .expect(
                Method::POST,
                "/api/v1/bulk/commands",
                &admin,
                Some(&json!({"account_ids": [a.account], "action": "trip"})),
                202,
            )
            .await;
        assert_eq!(done["items"][0]["meter_id"], m1.to_string());
        assert_eq!(done["items"][0]["command"]["state"], "queued");
        assert_eq!(count(&app, "commands", "").await, 1);
    }
}
