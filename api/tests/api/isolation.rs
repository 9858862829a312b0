//! Organizations are kept apart (OWASP API #1) and roles are enforced on every route.
//!
//! The table below lists every route that takes an id. Organization A's admin calls each with
//! organization B's ids: every answer must be 404, and B's data must be unchanged afterwards.

use std::fmt::Write as _;

use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::support::{spawn_apps, TestApp};

/// Ids of one organization's rows, one of each kind.
pub(crate) struct Ids {
    pub(crate) site: String,
    pub(crate) building: String,
    pub(crate) unit: String,
    pub(crate) tenant: String,
    pub(crate) account: String,
    pub(crate) tariff: String,
    pub(crate) gateway: String,
    pub(crate) meter: String,
    pub(crate) work_order: String,
}

/// Creates a tariff, gateway and meter in B (the seed has the rest).
async fn org_b_ids(app: &TestApp) -> Ids {
    let t = app.access_token(&app.admin_b).await;
    let b = app.seeded.b;
    let tariff = app
        .expect(
            Method::POST,
            "/api/v1/tariffs",
            &t,
            Some(&json!({"name": "B"})),
            201,
        )
        .await;
    let gw = app
        .expect(Method::POST, "/api/v1/gateways", &t,
            Some(&json!({"site_id": b.site, "gateway_id": format!("gw-b{}", uuid::Uuid::new_v4().simple()), "name": "B"})), 201)
        .await;
    let meter = app
        .expect(Method::POST, "/api/v1/meters", &t,
            Some(&json!({"gateway_id": gw["id"], "unit_id": b.unit, "bus": "rs485-1", "slave": 1, "wire_id": "m-b", "model": "acrel-ddsy1352"})), 201)
        .await;
    Ids {
        site: b.site.to_string(),
        building: b.building.to_string(),
        unit: b.unit.to_string(),
        tenant: b.tenant.to_string(),
        account: b.account.to_string(),
        tariff: tariff["id"].as_str().unwrap().to_owned(),
        gateway: gw["id"].as_str().unwrap().to_owned(),
        meter: meter["id"].as_str().unwrap().to_owned(),
        work_order: crate::work_orders::open_order(
            app,
            app.org_b,
            "anomaly",
            Some(meter["id"].as_str().unwrap().parse().unwrap()),
        )
        .await
        .to_string(),
    }
}

/// Every route with an id, with a body that would be valid for a row of the caller's own org.
pub(crate) fn routes(ids: &Ids) -> Vec<(Method, String, Option<Value>)> {
    let flat = json!({"effective_from": "2027-01-01T00:00:00Z", "pricing": {"kind": "flat", "price": "1"}});
    vec![
        (Method::GET, format!("/api/v1/sites/{}", ids.site), None),
        (
            Method::PATCH,
            format!("/api/v1/sites/{}", ids.site),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/api/v1/sites/{}", ids.site), None),
        (
            Method::GET,
            format!("/api/v1/buildings/{}", ids.building),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/buildings/{}", ids.building),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/buildings/{}", ids.building),
            None,
        ),
        (
            Method::POST,
            "/api/v1/buildings".to_owned(),
            Some(json!({"site_id": ids.site, "name": "x"})),
        ),
        (Method::GET, format!("/api/v1/units/{}", ids.unit), None),
        (
            Method::PATCH,
            format!("/api/v1/units/{}", ids.unit),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/api/v1/units/{}", ids.unit), None),
        (
            Method::POST,
            "/api/v1/units".to_owned(),
            Some(json!({"building_id": ids.building, "name": "x", "kind": "flat"})),
        ),
        (Method::GET, format!("/api/v1/tenants/{}", ids.tenant), None),
        (
            Method::PATCH,
            format!("/api/v1/tenants/{}", ids.tenant),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/tenants/{}", ids.tenant),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/accounts/{}", ids.account),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/accounts/{}", ids.account),
            Some(json!({"protected": true, "reason": "x"})),
        ),
        (
            Method::GET,
            format!("/api/v1/accounts/{}/ledger", ids.account),
            None,
        ),
        (
            Method::POST,
            "/api/v1/accounts".to_owned(),
            Some(json!({"unit_id": ids.unit})),
        ),
        (Method::GET, format!("/api/v1/tariffs/{}", ids.tariff), None),
        (
            Method::PATCH,
            format!("/api/v1/tariffs/{}", ids.tariff),
            Some(json!({"name": "x"})),
        ),
        (
            Method::GET,
            format!("/api/v1/tariffs/{}/versions", ids.tariff),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/tariffs/{}/versions", ids.tariff),
            Some(flat),
        ),
        (
            Method::GET,
            format!("/api/v1/gateways/{}", ids.gateway),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/gateways/{}", ids.gateway),
            Some(json!({"name": "x"})),
        ),
        (
            Method::POST,
            format!("/api/v1/gateways/{}/password", ids.gateway),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/gateways/{}", ids.gateway),
            None,
        ),
        (
            Method::POST,
            "/api/v1/gateways".to_owned(),
            Some(json!({"site_id": ids.site, "gateway_id": "gw-zz1", "name": "x"})),
        ),
        (Method::GET, format!("/api/v1/meters/{}", ids.meter), None),
        (
            Method::PATCH,
            format!("/api/v1/meters/{}", ids.meter),
            Some(json!({"slave": 9})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/meters/{}", ids.meter),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/meters?account_id={}", ids.account),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/meters/{}/commands", ids.meter),
            Some(json!({"action": "read_now"})),
        ),
        (
            Method::GET,
            format!("/api/v1/meters/{}/commands", ids.meter),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/meters/{}/readings", ids.meter),
            Some(json!({"reading_kwh": "1", "taken_at": "2026-01-01T00:00:00Z"})),
        ),
        (
            Method::GET,
            format!("/api/v1/meters/{}/readings", ids.meter),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/meters/{}/replace", ids.meter),
            Some(
                json!({"old_final_reading_kwh": "1", "new_start_reading_kwh": "0",
                    "replaced_at": "2026-01-01T00:00:00Z",
                    "new": {"wire_id": "m-y", "slave_id": 2, "model": "acrel-ddsy1352"}}),
            ),
        ),
        (
            Method::GET,
            format!("/api/v1/accounts/{}/usage", ids.account),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/accounts/{}/close", ids.account),
            Some(json!({"settlement": "cash_refund"})),
        ),
        (
            Method::POST,
            "/api/v1/meters".to_owned(),
            Some(
                json!({"gateway_id": ids.gateway, "bus": "b", "slave": 1, "wire_id": "m-x", "model": "x"}),
            ),
        ),
        (
            Method::GET,
            format!("/api/v1/work-orders/{}", ids.work_order),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/work-orders/{}/assign", ids.work_order),
            Some(json!({"user_id": uuid::Uuid::nil()})),
        ),
        (
            Method::POST,
            format!("/api/v1/work-orders/{}/comments", ids.work_order),
            Some(json!({"text": "x"})),
        ),
        (
            Method::POST,
            format!("/api/v1/work-orders/{}/resolve", ids.work_order),
            Some(json!({"resolution": "x", "new_baseline": {"reading_kwh": "1"}})),
        ),
        (
            Method::GET,
            format!("/api/v1/sites/{}/control-settings", ids.site),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/sites/{}/control-settings", ids.site),
            Some(json!({"alarm_threshold": "1.00"})),
        ),
        (
            Method::GET,
            format!("/api/v1/accounts/{}/control-settings", ids.account),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/accounts/{}/control-settings", ids.account),
            Some(json!({"alarm_threshold": "1.00"})),
        ),
        (
            Method::POST,
            "/api/v1/bulk/tariff".to_owned(),
            Some(json!({"unit_ids": [ids.unit], "tariff_id": ids.tariff})),
        ),
        (
            Method::POST,
            "/api/v1/bulk/tariff".to_owned(),
            Some(json!({"building_id": ids.building, "tariff_id": ids.tariff})),
        ),
        (
            Method::POST,
            "/api/v1/bulk/control-settings".to_owned(),
            Some(json!({"account_ids": [ids.account], "settings": {"alarm_threshold": "1.00"}})),
        ),
        (
            Method::POST,
            "/api/v1/bulk/control-settings".to_owned(),
            Some(json!({"site_id": ids.site, "settings": {"alarm_threshold": "1.00"}})),
        ),
        (
            Method::POST,
            "/api/v1/bulk/commands".to_owned(),
            Some(json!({"meter_ids": [ids.meter], "action": "trip"})),
        ),
        (
            Method::POST,
            "/api/v1/bulk/commands".to_owned(),
            Some(json!({"account_ids": [ids.account], "action": "trip"})),
        ),
    ]
}

/// Everything of organization B that a request could change, as one comparable text.
async fn snapshot(app: &TestApp) -> String {
    snapshot_of(app, app.org_b).await
}

/// Everything of `org` that a request could change, as one comparable text.
pub(crate) async fn snapshot_of(app: &TestApp, org: store::OrgId) -> String {
    let org = org.to_string();
    let mut out = String::new();
    for table in [
        "sites",
        "buildings",
        "units",
        "tenants",
        "accounts",
        "tariffs",
        "tariff_versions",
        "gateways",
        "meters",
        "ledger_entries",
        "outbox",
        "audit_log",
        "commands",
        "readings",
        "manual_readings",
        "meter_retirements",
        "work_orders",
        "work_order_notes",
        "control_settings",
    ] {
        let sql = format!("SELECT * FROM {table} WHERE organization_id = '{org}' ORDER BY 1");
        let rows = app
            .db
            .query_all(Statement::from_string(app.db.get_database_backend(), sql))
            .await
            .unwrap();
        writeln!(out, "{table}: {rows:?}").unwrap();
    }
    out
}

#[tokio::test]
async fn another_organizations_ids_answer_404_and_change_nothing() {
    for app in spawn_apps().await {
        let ids = org_b_ids(&app).await;
        let before = snapshot(&app).await;
        let t = app.access_token(&app.admin_a).await;
        for (method, path, body) in routes(&ids) {
            let res = app.call(method.clone(), &path, &t, body.as_ref()).await;
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            if path.contains("?account_id=") {
                assert_eq!(status, 404, "{method} {path}: {text}");
                continue;
            }
            assert_eq!(status, 404, "{method} {path}: {text}");
            let problem: Value = serde_json::from_str(&text).unwrap();
            assert!(
                problem["code"].as_str().unwrap().ends_with("not_found"),
                "{text}"
            );
        }
        // Lists never show B's rows either.
        for list in [
            "sites",
            "buildings",
            "units",
            "tenants",
            "accounts",
            "tariffs",
            "gateways",
            "meters",
        ] {
            let page = app
                .expect(Method::GET, &format!("/api/v1/{list}"), &t, None, 200)
                .await;
            let text = page.to_string();
            for id in [
                &ids.site,
                &ids.building,
                &ids.unit,
                &ids.tenant,
                &ids.account,
                &ids.tariff,
                &ids.gateway,
                &ids.meter,
            ] {
                assert!(!text.contains(id.as_str()), "{list} shows B's {id}");
            }
        }
        assert_eq!(snapshot(&app).await, before, "organization B changed");
    }
}

#[tokio::test]
async fn roles_are_enforced() {
    use domain::Role;
    for app in spawn_apps().await {
        let a = app.seeded.a;
        let viewer = app.token_for_role(app.org_a, Role::Viewer).await;
        let tech = app.token_for_role(app.org_a, Role::Technician).await;
        let operator = app.token_for_role(app.org_a, Role::Operator).await;
        let site_body = json!({"name": "x"});
        let gw_body =
            |n: &str| json!({"site_id": a.site, "gateway_id": format!("gw-{n}"), "name": "x"});
        // (token, method, path, body, allowed)
        let cases: Vec<(&str, Method, String, Option<Value>, bool)> = vec![
            (&viewer, Method::GET, "/api/v1/sites".into(), None, true),
            (
                &viewer,
                Method::GET,
                format!("/api/v1/accounts/{}/ledger", a.account),
                None,
                true,
            ),
            (
                &viewer,
                Method::POST,
                "/api/v1/sites".into(),
                Some(site_body.clone()),
                false,
            ),
            (
                &viewer,
                Method::PATCH,
                format!("/api/v1/accounts/{}", a.account),
                Some(json!({"protected": false})),
                false,
            ),
            (
                &viewer,
                Method::POST,
                "/api/v1/gateways".into(),
                Some(gw_body("v1")),
                false,
            ),
            (&tech, Method::GET, "/api/v1/meters".into(), None, true),
            (
                &tech,
                Method::POST,
                "/api/v1/gateways".into(),
                Some(gw_body("t1")),
                true,
            ),
            (
                &tech,
                Method::GET,
                format!("/api/v1/accounts/{}/ledger", a.account),
                None,
                false,
            ),
            (
                &tech,
                Method::POST,
                "/api/v1/accounts".into(),
                Some(json!({"unit_id": a.unit})),
                false,
            ),
            (
                &tech,
                Method::POST,
                "/api/v1/sites".into(),
                Some(site_body.clone()),
                false,
            ),
            (
                &operator,
                Method::POST,
                "/api/v1/sites".into(),
                Some(site_body.clone()),
                true,
            ),
            (
                &operator,
                Method::DELETE,
                format!("/api/v1/sites/{}", a.site),
                None,
                false,
            ),
            (&operator, Method::GET, "/api/v1/audit".into(), None, false),
            (
                &operator,
                Method::GET,
                "/api/v1/stats/overview".into(),
                None,
                true,
            ),
            (
                &viewer,
                Method::GET,
                "/api/v1/stats/overview".into(),
                None,
                true,
            ),
            (
                &tech,
                Method::GET,
                "/api/v1/stats/overview".into(),
                None,
                false,
            ),
            (&viewer, Method::GET, "/api/v1/audit".into(), None, false),
        ];
        for (token, method, path, body, allowed) in cases {
            let res = app.call(method.clone(), &path, token, body.as_ref()).await;
            let status = res.status().as_u16();
            if allowed {
                assert!(
                    status < 400,
                    "{method} {path} should be allowed, got {status}"
                );
            } else {
                assert_eq!(status, 403, "{method} {path} should be forbidden");
                let problem: Value = res.json().await.unwrap();
                assert_eq!(problem["code"], "forbidden");
            }
        }
        // Technicians see tenants' phones masked; operators in full.
        let masked = app
            .expect(
                Method::GET,
                &format!("/api/v1/tenants/{}", a.tenant),
                &tech,
                None,
                200,
            )
            .await;
        assert_eq!(masked["phone"], "138****0000");
        let full = app
            .expect(
                Method::GET,
                &format!("/api/v1/tenants/{}", a.tenant),
                &operator,
                None,
                200,
            )
            .await;
        assert_eq!(full["phone"], "13800000000");
    }
}

#[tokio::test]
async fn forged_unsigned_and_expired_tokens_are_refused() {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    for app in spawn_apps().await {
        let now = chrono::Utc::now().timestamp();
        let claims = json!({"sub": uuid::Uuid::new_v4(), "org": app.org_a, "role": "org_admin",
            "iss": "wattpay", "aud": "wattpay-manager", "iat": now, "exp": now + 600});
        let none = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&claims)
        );
        let keys = api::auth::TokenKeys::new(
            b"another deployment's secret of 32+ bytes",
            std::time::Duration::from_secs(60),
        );
        let forged = keys
            .issue(
                uuid::Uuid::new_v4(),
                app.org_a.into(),
                domain::Role::OrgAdmin,
                chrono::Utc::now(),
            )
            .unwrap();
        for (token, code) in [
            (none.as_str(), "invalid_token"),
            (forged.as_str(), "invalid_token"),
            ("garbage", "invalid_token"),
        ] {
            let res = app.call(Method::GET, "/api/v1/sites", token, None).await;
            assert_eq!(res.status(), 401);
            let problem: Value = res.json().await.unwrap();
            assert_eq!(problem["code"], code);
        }
        let res = app
            .client
            .get(app.url("/api/v1/sites"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
}
