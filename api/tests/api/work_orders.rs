//! Work orders: list and filter, assign, comment, resolve; an anomaly's resolution resets the
//! meter's rating baseline so nothing is charged for the gap.

use chrono::{Duration, Utc};
use domain::{AnomalyKind, Energy, MeterReading, Role};
use reqwest::Method;
use serde_json::json;
use store::work_order::NewWorkOrder;
use store::{MeterId, OrgId, WorkOrderId};

use crate::support::{spawn_apps, TestApp};

/// A gateway and a meter on the organization's seeded unit: the meter id.
pub async fn meter_in(
    app: &TestApp,
    t: &str,
    site: impl std::fmt::Display,
    unit: impl std::fmt::Display,
) -> MeterId {
    let gw = app
        .expect(Method::POST, "/api/v1/gateways", t,
            Some(&json!({"site_id": site.to_string(), "gateway_id": format!("gw-w{}", uuid::Uuid::new_v4().simple()), "name": "g"})), 201)
        .await;
    let m = app
        .expect(Method::POST, "/api/v1/meters", t,
            Some(&json!({"gateway_id": gw["id"], "unit_id": unit.to_string(), "bus": "rs485-1", "slave": 1, "wire_id": "m-1", "model": "acrel-ddsy1352"})), 201)
        .await;
    m["id"].as_str().unwrap().parse().unwrap()
}

/// Opens an order as the worker does.
pub async fn open_order(
    app: &TestApp,
    org: OrgId,
    kind: &str,
    meter: Option<MeterId>,
) -> WorkOrderId {
    store::work_order::open_once(
        &app.db,
        org,
        NewWorkOrder {
            kind: kind.to_owned(),
            title: format!("{kind} on the meter"),
            detail: "found by the worker".to_owned(),
            account_id: None,
            meter_id: meter,
            gateway_id: None,
            dedup_key: format!("{kind}:{}", uuid::Uuid::new_v4()),
        },
        Utc::now(),
    )
    .await
    .unwrap()
    .unwrap()
}

/// Puts the meter in the state rating leaves after a falling register: suspended at 100 kWh,
/// ¥5.00 charged so far; then stores a newer reading of 7 kWh (the replaced register).
async fn suspend(app: &TestApp, org: OrgId, meter: MeterId) {
    let t0 = Utc::now() - Duration::hours(2);
    let mut state = domain::RatingState::baseline(&MeterReading {
        ts: t0,
        total: Energy::from_wh(100_000),
        tou: None,
    });
    state.posted = domain::Money::from_fen(500);
    state.exact_charge = rust_decimal::Decimal::new(5, 0);
    state.anomaly = Some(AnomalyKind::RegisterDecreased);
    store::rating_state::lock(&app.db, org, meter)
        .await
        .unwrap();
    store::rating_state::save(&app.db, org, meter, &state)
        .await
        .unwrap();
    store::reading::insert_many(
        &app.db,
        org,
        &[store::reading::NewReading {
            meter_id: meter,
            ts: t0 + Duration::hours(1),
            energy_wh: Some(7_000),
            tou_wh: [None; 4],
            voltage_v: None,
            current_a: None,
            power_kw: None,
            relay: None,
            error: None,
            gateway_batch: None,
        }],
        Utc::now(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn orders_are_listed_assigned_commented_and_resolved_with_a_new_baseline() {
    for app in spawn_apps().await {
        let a = app.seeded.a;
        let admin = app.access_token(&app.admin_a).await;
        let tech = app.token_for_role(app.org_a, Role::Technician).await;
        let viewer = app.token_for_role(app.org_a, Role::Viewer).await;
        let meter = meter_in(&app, &admin, a.site, a.unit).await;
        suspend(&app, app.org_a, meter).await;
        let anomaly = open_order(&app, app.org_a, "anomaly", Some(meter)).await;
        let offline = open_order(&app, app.org_a, "gateway_offline", None).await;

        // Lists and filters.
        let all = app
            .expect(Method::GET, "/api/v1/work-orders", &viewer, None, 200)
            .await;
        assert_eq!(all["total"], 2, "{all}");
        let by_kind = app
            .expect(
                Method::GET,
                "/api/v1/work-orders?kind=anomaly&status=open",
                &viewer,
                None,
                200,
            )
            .await;
        assert_eq!(by_kind["items"].as_array().unwrap().len(), 1);
        assert_eq!(by_kind["items"][0]["id"], anomaly.to_string());
        let by_site = app
            .expect(
                Method::GET,
                &format!("/api/v1/work-orders?site_id={}", a.site),
                &viewer,
                None,
                200,
            )
            .await;
        assert_eq!(
            by_site["total"], 1,
            "only the meter's order is in a site: {by_site}"
        );
        let by_meter = app
            .expect(
                Method::GET,
                &format!("/api/v1/work-orders?meter_id={meter}"),
                &viewer,
                None,
                200,
            )
            .await;
        assert_eq!(by_meter["total"], 1);
        app.expect(
            Method::GET,
            "/api/v1/work-orders?status=maybe",
            &viewer,
            None,
            400,
        )
        .await;

        // Viewers read only.
        let path = format!("/api/v1/work-orders/{anomaly}");
        app.expect(
            Method::POST,
            &format!("{path}/comments"),
            &viewer,
            Some(&json!({"text": "x"})),
            403,
        )
        .await;

        // Assign to a technician; a viewer or another org's user cannot be assigned.
        let tech_id = user_id(&app, &tech).await;
        let viewer_id = user_id(&app, &viewer).await;
        let other_org_tech = app.token_for_role(app.org_b, Role::Technician).await;
        let other_id = user_id(&app, &other_org_tech).await;
        for bad in [&viewer_id, &other_id] {
            let p = app
                .expect(
                    Method::POST,
                    &format!("{path}/assign"),
                    &admin,
                    Some(&json!({"user_id": bad})),
                    422,
                )
                .await;
            assert_eq!(p["code"], "invalid_assignee");
        }
        let assigned = app
            .expect(
                Method::POST,
                &format!("{path}/assign"),
                &admin,
                Some(&json!({"user_id": tech_id})),
                200,
            )
            .await;
        assert_eq!(assigned["assignee_id"], tech_id);
        assert_eq!(assigned["status"], "in_progress");
        let mine = app
            .expect(
                Method::GET,
                &format!("/api/v1/work-orders?assignee={tech_id}"),
                &tech,
                None,
                200,
            )
            .await;
        assert_eq!(mine["total"], 1);
        assert_eq!(mine["items"][0]["id"], anomaly.to_string());

        // The technician comments and resolves with the newest reading as the baseline.
        app.expect(
            Method::POST,
            &format!("{path}/comments"),
            &tech,
            Some(&json!({"text": "  "})),
            400,
        )
        .await;
        let note = app
            .expect(
                Method::POST,
                &format!("{path}/comments"),
                &tech,
                Some(&json!({"text": "meter replaced, register restarted"})),
                201,
            )
            .await;
        assert_eq!(note["kind"], "comment");
        let done = app
            .expect(
                Method::POST,
                &format!("{path}/resolve"),
                &tech,
                Some(&json!({"resolution": "new meter"})),
                200,
            )
            .await;
        assert_eq!(done["status"], "resolved");
        assert_eq!(done["baseline_kwh"], "7.000", "{done}");
        assert_eq!(done["meter"]["id"], meter.to_string());
        assert_eq!(done["unit"]["id"], a.unit.to_string());
        let kinds: Vec<&str> = done["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["assign", "comment", "resolve"]);
        // Rating resumes from 7 kWh, keeping what was charged; nothing for the gap.
        let state = store::rating_state::get(&app.db, app.org_a, meter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(state.anomaly, None);
        assert_eq!(state.last_total, Energy::from_wh(7_000));
        assert_eq!(state.posted, domain::Money::from_fen(500));
        let p = app
            .expect(
                Method::POST,
                &format!("{path}/resolve"),
                &tech,
                Some(&json!({"resolution": "again"})),
                409,
            )
            .await;
        assert_eq!(p["code"], "already_resolved");
        let open = app
            .expect(
                Method::GET,
                "/api/v1/work-orders?status=open",
                &viewer,
                None,
                200,
            )
            .await;
        assert_eq!(open["total"], 1);
        assert_eq!(open["items"][0]["id"], offline.to_string());
        let audit: Vec<String> = store::audit::list(&app.db, app.org_a, store::Page::all())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|e| e.action)
            .collect();
        for action in [
            "work_order.assign",
            "work_order.comment",
            "work_order.resolve",
        ] {
            assert!(
                audit.iter().any(|a| a == action),
                "{action} audited: {audit:?}"
            );
        }
    }
}

#[tokio::test]
async fn an_explicit_baseline_is_where_rating_resumes() {
    for app in spawn_apps().await {
        let a = app.seeded.a;
        let admin = app.access_token(&app.admin_a).await;
        let meter = meter_in(&app, &admin, a.site, a.unit).await;
        suspend(&app, app.org_a, meter).await;
        let order = open_order(&app, app.org_a, "anomaly", Some(meter)).await;
        let path = format!("/api/v1/work-orders/{order}/resolve");
        for bad in ["-1", "1.2345", "abc"] {
            let p = app
                .expect(
                    Method::POST,
                    &path,
                    &admin,
                    Some(&json!({"resolution": "x", "new_baseline": {"reading_kwh": bad}})),
                    400,
                )
                .await;
            assert_eq!(p["code"], "invalid_reading");
        }
        let done = app
            .expect(Method::POST, &path, &admin,
                Some(&json!({"resolution": "read off the display", "new_baseline": {"reading_kwh": "12.5"}})), 200)
            .await;
        assert_eq!(done["baseline_kwh"], "12.5");
        let state = store::rating_state::get(&app.db, app.org_a, meter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (state.anomaly, state.last_total),
            (None, Energy::from_wh(12_500))
        );
    }
}

/// The signed-in user's id.
async fn user_id(app: &TestApp, token: &str) -> String {
    let me = app
        .expect(Method::GET, "/api/v1/me", token, None, 200)
        .await;
    me["user_id"]
        .as_str()
        .or_else(|| me["id"].as_str())
        .unwrap()
        .to_owned()
}
