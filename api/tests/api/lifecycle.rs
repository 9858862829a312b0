//! Account lifecycle: readings entered by hand, meter replacement (nothing charged twice or
//! lost), closing with the final settlement, and the manager's readings and usage views.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};
use store::reading::NewReading;
use store::MeterId;

use crate::support::{spawn_apps, TestApp};

/// Organization A's account on a flat ¥1.00/kWh tariff and a meter on its unit.
async fn metered_account(app: &TestApp, t: &str) -> MeterId {
    let tariff = app
        .expect(
            Method::POST,
            "/api/v1/tariffs",
            t,
            Some(&json!({"name": "flat"})),
            201,
        )
        .await;
    let tariff = tariff["id"].as_str().unwrap();
    app.expect(Method::POST, &format!("/api/v1/tariffs/{tariff}/versions"), t,
        Some(&json!({"effective_from": "2020-01-01T00:00:00Z", "pricing": {"kind": "flat", "price": "1"}})), 201)
        .await;
    let account = app.seeded.a.account;
    app.expect(
        Method::PATCH,
        &format!("/api/v1/accounts/{account}"),
        t,
        Some(&json!({"tariff_id": tariff})),
        200,
    )
    .await;
    let gw = app
        .expect(Method::POST, "/api/v1/gateways", t,
            Some(&json!({"site_id": app.seeded.a.site, "gateway_id": format!("gw-l{}", uuid::Uuid::new_v4().simple()), "name": "g"})), 201)
        .await;
    let m = app
        .expect(Method::POST, "/api/v1/meters", t,
            Some(&json!({"gateway_id": gw["id"], "unit_id": app.seeded.a.unit, "bus": "rs485-1", "slave": 1, "wire_id": "m-1", "model": "acrel-ddsy1352"})), 201)
        .await;
    m["id"].as_str().unwrap().parse().unwrap()
}

/// Stores a reading as the worker's ingestion does (a gateway's reading).
async fn gateway_reading(app: &TestApp, meter: MeterId, ts: DateTime<Utc>, wh: i64) {
    let r = NewReading {
        meter_id: meter,
        ts,
        energy_wh: Some(wh),
        tou_wh: [None; 4],
        voltage_v: None,
        current_a: None,
        power_kw: None,
        relay: Some("closed".into()),
        error: None,
        gateway_batch: Some(1),
    };
    store::reading::insert_many(&app.db, app.org_a, &[r], Utc::now())
        .await
        .unwrap();
}

/// Rates the meter up to `through` as the worker's pass would have.
async fn rate(app: &TestApp, meter: MeterId, through: DateTime<Utc>) {
    use sea_orm::TransactionTrait as _;
    let m = store::meter::get(&app.db, app.org_a, meter).await.unwrap();
    let a = store::account::get(&app.db, app.org_a, app.seeded.a.account)
        .await
        .unwrap();
    let txn = app.db.begin().await.unwrap();
    let rated = store::settlement::rate_through(&txn, app.org_a, &m, &a, through)
        .await
        .unwrap();
    assert!(
        matches!(rated, store::settlement::Rated::Charged { .. }),
        "{rated:?}"
    );
    txn.commit().await.unwrap();
}

async fn balance(app: &TestApp) -> String {
    let t = app.access_token(&app.admin_a).await;
    let a = app
        .expect(
            Method::GET,
            &format!("/api/v1/accounts/{}", app.seeded.a.account),
            &t,
            None,
            200,
        )
        .await;
    a["balance"].as_str().unwrap().to_owned()
}

async fn charges(app: &TestApp) -> Vec<String> {
    let t = app.access_token(&app.admin_a).await;
    let l = app
        .expect(
            Method::GET,
            &format!("/api/v1/accounts/{}/ledger", app.seeded.a.account),
            &t,
            None,
            200,
        )
        .await;
    let mut out: Vec<String> = l["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "charge")
        .map(|e| e["amount"].as_str().unwrap().to_owned())
        .collect();
    out.reverse();
    out
}

async fn assert_ledger_balances(app: &TestApp) {
    let mismatches = store::ledger::verify_balances(&app.db).await.unwrap();
    assert!(mismatches.is_empty(), "{mismatches:?}");
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let row = app
        .db
        .query_one(Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {sql}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn a_manual_reading_is_stored_marked_audited_and_handed_to_rating() {
    for app in spawn_apps().await {
        let t = app.access_token(&app.admin_a).await;
        let meter = metered_account(&app, &t).await;
        let t0 = Utc::now() - Duration::hours(3);
        gateway_reading(&app, meter, t0, 100_000).await;
        let path = format!("/api/v1/meters/{meter}/readings");
        let taken = t0 + Duration::hours(1);
        let r = app
            .expect(Method::POST, &path, &t,
                Some(&json!({"reading_kwh": "104.5", "taken_at": taken, "note": "表坏了 display only"})), 201)
            .await;
        assert_eq!(r["energy_kwh"], "104.500");
        assert_eq!(r["source"], "manual");
        assert_eq!(r["note"], "表坏了 display only");
        assert!(r["entered_by"].is_string());

        // Same time again: a duplicate; lower than the last reading: the register went down.
        let dup = app
            .call(
                Method::POST,
                &path,
                &t,
                Some(&json!({"reading_kwh": "105", "taken_at": taken})),
            )
            .await;
        assert_eq!(dup.status(), 409);
        assert_eq!(
            dup.json::<Value>().await.unwrap()["code"],
            "duplicate_reading"
        );
        let down = app
            .call(
                Method::POST,
                &path,
                &t,
                Some(&json!({"reading_kwh": "104.4", "taken_at": taken + Duration::minutes(5)})),
            )
            .await;
        assert_eq!(down.status(), 422);
        assert_eq!(
            down.json::<Value>().await.unwrap()["code"],
            "register_went_down"
        );
        for bad in ["-1", "1.2345", "x", ""] {
            let res = app
                .call(
                    Method::POST,
                    &path,
                    &t,
                    Some(&json!({"reading_kwh": bad, "taken_at": taken + Duration::minutes(9)})),
                )
                .await;
            assert_eq!(res.status(), 400, "{bad}");
        }
        let future = app
            .call(
                Method::POST,
                &path,
                &t,
                Some(&json!({"reading_kwh": "200", "taken_at": Utc::now() + Duration::hours(1)})),
            )
            .await;
        assert_eq!(future.status(), 422);
        // A viewer cannot enter readings.
        let viewer = app.token_for_role(app.org_a, domain::Role::Viewer).await;
        let res = app
            .call(
                Method::POST,
                &path,
                &viewer,
                Some(&json!({"reading_kwh": "200", "taken_at": taken + Duration::minutes(30)})),
            )
            .await;
        assert_eq!(res.status(), 403);

        // Listed newest first with their source; the worker is told to rate the meter.
        let list = app.expect(Method::GET, &path, &viewer, None, 200).await;
        let sources: Vec<_> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["energy_kwh"].as_str().unwrap(),
                    r["source"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(sources, [("104.500", "manual"), ("100.000", "meter")]);
        assert_eq!(list["total"], 2);
        let ranged = app
            .expect(
                Method::GET,
                &format!(
                    "{path}?from={}&per_page=1",
                    (t0 + Duration::minutes(1)).to_rfc3339().replace('+', "%2B")
                ),
                &viewer,
                None,
                200,
            )
            .await;
        assert_eq!(ranged["total"], 1);
        assert_eq!(
            count(
                &app,
                &format!(
                    "outbox WHERE kind = 'meter.readings_entered' AND payload LIKE '%{meter}%'"
                )
            )
            .await,
            1
        );
        assert_eq!(
            count(&app, "audit_log WHERE action = 'meter.manual_reading'").await,
            1
        );
        // Rating takes it like any reading: 4.5 kWh at ¥1.
        rate(&app, meter, Utc::now()).await;
        assert_eq!(charges(&app).await, ["-4.50"]);
        assert_eq!(balance(&app).await, "95.50");
        let usage = app
            .expect(
                Method::GET,
                &format!("/api/v1/accounts/{}/usage?days=7", app.seeded.a.account),
                &viewer,
                None,
                200,
            )
            .await;
        assert_eq!(usage["days"].as_array().unwrap().len(), 7);
        assert_eq!(usage["total_kwh"], "4.500");
        assert_eq!(usage["total_cost"], "4.50");
        let tech = app
            .token_for_role(app.org_a, domain::Role::Technician)
            .await;
        let res = app
            .call(
                Method::GET,
                &format!("/api/v1/accounts/{}/usage", app.seeded.a.account),
                &tech,
                None,
            )
            .await;
        assert_eq!(res.status(), 403);
    }
}

#[tokio::test]
async fn replacing_a_meter_charges_the_old_one_to_its_final_reading_and_starts_the_new_one_at_its_start(
) {
    for app in spawn_apps().await {
        let t = app.access_token(&app.admin_a).await;
        let old = metered_account(&app, &t).await;
        let t0 = Utc::now() - Duration::hours(5);
        gateway_reading(&app, old, t0, 100_000).await;
        gateway_reading(&app, old, t0 + Duration::hours(1), 110_000).await;
        rate(&app, old, Utc::now()).await;
        assert_eq!(charges(&app).await, ["-10.00"]);

        let replaced_at = t0 + Duration::hours(2);
        let body = json!({"old_final_reading_kwh": "115", "new_start_reading_kwh": "3",
            "replaced_at": replaced_at,
            "new": {"wire_id": "m-1", "slave_id": 1, "model": "acrel-ddsy1352"}});
        let path = format!("/api/v1/meters/{old}/replace");
        let down = app
            .call(
                Method::POST,
                &path,
                &t,
                Some(
                    &json!({"old_final_reading_kwh": "109", "new_start_reading_kwh": "3",
                    "replaced_at": replaced_at,
                    "new": {"wire_id": "m-2", "slave_id": 2, "model": "acrel-ddsy1352"}}),
                ),
            )
            .await;
        assert_eq!(down.status(), 422);
        assert_eq!(
            down.json::<Value>().await.unwrap()["code"],
            "register_went_down"
        );
        assert_eq!(
            count(&app, "meters").await,
            1,
            "a refused replacement adds no meter"
        );

        let r = app.expect(Method::POST, &path, &t, Some(&body), 201).await;
        // Only final - last rated: 115 - 110 kWh.
        assert_eq!(r["charged"], "5.00");
        assert_eq!(r["new_meter"]["wire_id"], "m-1");
        assert_eq!(
            r["new_meter"]["account_id"],
            app.seeded.a.account.to_string()
        );
        let new: MeterId = r["new_meter"]["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(charges(&app).await, ["-10.00", "-5.00"]);
        let again = app.call(Method::POST, &path, &t, Some(&body)).await;
        assert_eq!(again.status(), 409);

        // The old meter left the unit and the gateway's config; the gateway is told.
        let old_view = app
            .expect(Method::GET, &format!("/api/v1/meters/{old}"), &t, None, 200)
            .await;
        assert_eq!(old_view["unit_id"], Value::Null);
        assert_ne!(old_view["wire_id"], "m-1");
        let meters = app
            .expect(
                Method::GET,
                &format!("/api/v1/meters?account_id={}", app.seeded.a.account),
                &t,
                None,
                200,
            )
            .await;
        assert_eq!(meters["total"], 1);
        assert_eq!(meters["items"][0]["id"], new.to_string());
        assert_eq!(
            count(&app, "outbox WHERE kind = 'gateway.config_changed'").await,
            2
        );
        assert_eq!(
            count(&app, "audit_log WHERE action = 'meter.replace'").await,
            1
        );

        // The new meter's first reading above its start is charged for the difference only.
        gateway_reading(&app, new, replaced_at + Duration::hours(1), 7_000).await;
        rate(&app, new, Utc::now()).await;
        assert_eq!(charges(&app).await, ["-10.00", "-5.00", "-4.00"]);
        assert_eq!(balance(&app).await, "81.00");
        let readings = app
            .expect(
                Method::GET,
                &format!("/api/v1/meters/{new}/readings"),
                &t,
                None,
                200,
            )
            .await;
        assert_eq!(readings["items"][1]["source"], "manual");
        assert_eq!(readings["items"][1]["purpose"], "start");
        assert_ledger_balances(&app).await;
    }
}

#[tokio::test]
async fn closing_rates_the_final_reading_refunds_in_cash_and_frees_the_unit() {
    for app in spawn_apps().await {
        let t = app.access_token(&app.admin_a).await;
        let meter = metered_account(&app, &t).await;
        gateway_reading(&app, meter, Utc::now() - Duration::hours(2), 100_000).await;
        let account = app.seeded.a.account;
        let path = format!("/api/v1/accounts/{account}/close");
        // Positive balance: nothing to collect.
        let res = app
            .call(
                Method::POST,
                &path,
                &t,
                Some(&json!({"final_reading_kwh": "112.25", "settlement": "collect"})),
            )
            .await;
        assert_eq!(res.status(), 422);
        assert_eq!(
            res.json::<Value>().await.unwrap()["code"],
            "settlement_mismatch"
        );
        assert_eq!(balance(&app).await, "100.00");
        // The unit is occupied until the account is closed.
        let res = app
            .call(
                Method::POST,
                "/api/v1/accounts",
                &t,
                Some(&json!({"unit_id": app.seeded.a.unit})),
            )
            .await;
        assert_eq!(res.status(), 409);
        assert_eq!(res.json::<Value>().await.unwrap()["code"], "unit_occupied");

        let s = app
            .expect(Method::POST, &path, &t,
                Some(&json!({"final_reading_kwh": "112.25", "settlement": "cash_refund", "note": "搬走"})), 200)
            .await;
        // The refused attempt left nothing behind: the final reading is rated once, now.
        assert_eq!(s["charged"], "12.25");
        assert_eq!(s["balance_before_settlement"], "87.75");
        assert_eq!(s["cash_refunded"], "87.75");
        assert_eq!(s["closing_balance"], "0.00");
        assert_eq!(s["status"], "closed");
        assert_eq!(s["final_reading_kwh"], "112.250");
        assert_eq!(s["trip_commands"].as_array().unwrap().len(), 1);
        assert_eq!(balance(&app).await, "0.00");
        assert_ledger_balances(&app).await;
        assert_eq!(
            count(&app, "audit_log WHERE action = 'account.settle'").await,
            1
        );
        assert_eq!(
            count(&app, "audit_log WHERE action = 'account.close'").await,
            1
        );
        assert_eq!(count(&app, "commands WHERE action = 'trip'").await, 1);

        // Closed: no payments, no second closing.
        let pay = app
            .client
            .post(app.url(&format!("/api/v1/accounts/{account}/payments")))
            .bearer_auth(&t)
            .header("Idempotency-Key", "after-closing")
            .json(&json!({"amount": "10", "method": "cash"}))
            .send()
            .await
            .unwrap();
        assert_eq!(pay.status(), 409, "{}", pay.text().await.unwrap());
        let s_no = s["account_no"].as_str().unwrap();
        let order = app
            .client
            .post(app.url("/api/v1/pay/orders"))
            .json(&json!({"account_no": s_no, "amount": "10", "provider": "sandbox"}))
            .send()
            .await
            .unwrap();
        assert_eq!(order.status(), 409);
        assert_eq!(
            order.json::<Value>().await.unwrap()["code"],
            "account_closed"
        );
        let again = app
            .call(
                Method::POST,
                &path,
                &t,
                Some(&json!({"settlement": "cash_refund"})),
            )
            .await;
        assert_eq!(again.status(), 409);
        assert_eq!(
            again.json::<Value>().await.unwrap()["code"],
            "account_closed"
        );
        // The unit takes a new account, and its meter now belongs to it.
        let next = app
            .expect(
                Method::POST,
                "/api/v1/accounts",
                &t,
                Some(&json!({"unit_id": app.seeded.a.unit, "opening_balance": "20"})),
                201,
            )
            .await;
        let m = app
            .expect(
                Method::GET,
                &format!("/api/v1/meters/{meter}"),
                &t,
                None,
                200,
            )
            .await;
        assert_eq!(m["account_id"], next["id"]);
    }
}

#[tokio::test]
async fn closing_a_negative_balance_collects_what_is_due_at_the_counter() {
    for app in spawn_apps().await {
        let t = app.access_token(&app.admin_a).await;
        let meter = metered_account(&app, &t).await;
        gateway_reading(&app, meter, Utc::now() - Duration::hours(30), 100_000).await;
        let account = app.seeded.a.account;
        let path = format!("/api/v1/accounts/{account}/close");
        let due = app
            .call(
                Method::POST,
                &path,
                &t,
                Some(&json!({"final_reading_kwh": "230", "settlement": "cash_refund"})),
            )
            .await;
        assert_eq!(due.status(), 422);
        let due: Value = due.json().await.unwrap();
        assert_eq!(due["code"], "amount_due");
        assert!(due["detail"].as_str().unwrap().contains("30.00"), "{due}");
        // Refused: nothing rated or kept.
        assert_eq!(balance(&app).await, "100.00");
        assert_eq!(count(&app, "manual_readings").await, 0);

        let s = app
            .expect(Method::POST, &path, &t,
                Some(&json!({"final_reading_kwh": "230", "settlement": "collect", "method": "card", "keep_power": true})), 200)
            .await;
        assert_eq!(s["charged"], "130.00");
        assert_eq!(s["collected"], "30.00");
        assert!(s["receipt_no"].as_i64().unwrap() >= 1);
        assert_eq!(s["closing_balance"], "0.00");
        assert_eq!(s["trip_commands"], json!([]));
        assert_eq!(count(&app, "commands").await, 0);
        assert_ledger_balances(&app).await;
    }
}
