//! Meter commands through the outbox, the overview figures and the audit log.

use chrono::{Duration, Utc};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};
use store::CommandState;

use crate::support::{spawn_apps, TestApp};

/// A gateway and a meter on organization A's seeded unit: the meter id.
async fn meter_of_a(app: &TestApp, t: &str) -> String {
    let gw = app
        .expect(Method::POST, "/api/v1/gateways", t,
            Some(&json!({"site_id": app.seeded.a.site, "gateway_id": format!("gw-o{}", uuid::Uuid::new_v4().simple()), "name": "g"})), 201)
        .await;
    let m = app
        .expect(Method::POST, "/api/v1/meters", t,
            Some(&json!({"gateway_id": gw["id"], "unit_id": app.seeded.a.unit, "bus": "rs485-1", "slave": 1, "wire_id": "m-1", "model": "acrel-ddsy1352"})), 201)
        .await;
    m["id"].as_str().unwrap().to_owned()
}

/// The outbox rows of `kind`, payloads only, oldest first.
async fn outbox(app: &TestApp, kind: &str) -> Vec<Value> {
    let sql = format!("SELECT payload FROM outbox WHERE kind = '{kind}' ORDER BY id");
    app.db
        .query_all(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap()
        .into_iter()
        .map(|r| serde_json::from_str(&r.try_get::<String>("", "payload").unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn commands_are_queued_with_seqs_and_guarded_by_protection_and_thresholds() {
    for app in spawn_apps().await {
        let t = app.access_token(&app.admin_a).await;
        let meter = meter_of_a(&app, &t).await;
        let account = app.seeded.a.account.to_string();
        let path = format!("/api/v1/meters/{meter}/commands");
        let send = |body: Value| {
            let (app, t, path) = (&app, &t, &path);
            async move { app.call(Method::POST, path, t, Some(&body)).await }
        };

        let c = send(json!({"action": "read_now"})).await;
        assert_eq!(c.status(), 202);
        let c: Value = c.json().await.unwrap();
        assert_eq!(
            (c["seq"].as_i64(), c["state"].as_str()),
            (Some(1), Some("queued"))
        );
        let queued = outbox(&app, "meter.command_queued").await;
        assert_eq!(queued.last().unwrap()["command_id"], c["id"]);

        let trip = send(json!({"action": "trip"})).await;
        assert_eq!(trip.status(), 202);
        let control = outbox(&app, "account.control_changed").await;
        assert_eq!(
            control.last().unwrap(),
            &json!({"account_id": account, "action": "force_trip"})
        );

        // Protected (保电): no trip.
        let acc = format!("/api/v1/accounts/{account}");
        app.expect(
            Method::PATCH,
            &acc,
            &t,
            Some(&json!({"protected": true, "reason": "hospital"})),
            200,
        )
        .await;
        let res = send(json!({"action": "trip"})).await;
        assert_eq!(res.status(), 409);
        assert_eq!(
            res.json::<Value>().await.unwrap()["code"],
            "account_protected"
        );
        app.expect(
            Method::PATCH,
            &acc,
            &t,
            Some(&json!({"protected": false})),
            200,
        )
        .await;

        // Balance ¥100 at or below a ¥200 trip threshold: closing needs an override with an end.
        app.expect(
            Method::PATCH,
            &acc,
            &t,
            Some(&json!({"trip_threshold": "200", "alarm_threshold": "250"})),
            200,
        )
        .await;
        for body in [
            json!({"action": "close"}),
            json!({"action": "close", "override": true}),
        ] {
            let res = send(body).await;
            assert_eq!(res.status(), 409);
            assert_eq!(
                res.json::<Value>().await.unwrap()["code"],
                "override_required"
            );
        }
        let past = Utc::now() - Duration::minutes(1);
        let res = send(json!({"action": "close", "override": true, "until": past})).await;
        assert_eq!(res.status(), 400);
        let until =
            (Utc::now() + Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let res = send(json!({"action": "close", "override": true, "until": until})).await;
        assert_eq!(res.status(), 202);
        let control = outbox(&app, "account.control_changed").await;
        let last = control.last().unwrap();
        assert_eq!(last["action"], "force_close");
        assert_eq!(
            last["until"]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<Utc>>()
                .unwrap(),
            until.parse::<chrono::DateTime<Utc>>().unwrap()
        );

        for bad in ["explode", "set_params"] {
            let res = send(json!({"action": bad})).await;
            assert_eq!(res.status(), 400);
            assert_eq!(res.json::<Value>().await.unwrap()["code"], "invalid_action");
        }

        let history = app.expect(Method::GET, &path, &t, None, 200).await;
        let seqs: Vec<i64> = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, vec![3, 2, 1]);

        // Roles: viewers cannot send; technicians can.
        let viewer = app.token_for_role(app.org_a, domain::Role::Viewer).await;
        let res = app
            .call(
                Method::POST,
                &path,
                &viewer,
                Some(&json!({"action": "read_now"})),
            )
            .await;
        assert_eq!(res.status(), 403);
        let tech = app
            .token_for_role(app.org_a, domain::Role::Technician)
            .await;
        let res = app
            .call(
                Method::POST,
                &path,
                &tech,
                Some(&json!({"action": "read_now"})),
            )
            .await;
        assert_eq!(res.status(), 202);

        // Each command is in the audit log, readable by the org admin only.
        let audit = app
            .expect(Method::GET, "/api/v1/audit", &t, None, 200)
            .await;
        let commands = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "meter.command")
            .count();
        assert_eq!(commands, 4);
        let tb = app.access_token(&app.admin_b).await;
        let audit_b = app
            .expect(Method::GET, "/api/v1/audit", &tb, None, 200)
            .await;
        assert!(!audit_b.to_string().contains("meter.command"));
    }
}

#[tokio::test]
async fn the_overview_counts_this_organization_only() {
    for app in spawn_apps().await {
        let t = app.access_token(&app.admin_a).await;
        let meter = meter_of_a(&app, &t).await;
        let res = app
            .client
            .post(app.url(&format!(
                "/api/v1/accounts/{}/payments",
                app.seeded.a.account
            )))
            .bearer_auth(&t)
            .header("Idempotency-Key", "stats-1")
            .json(&json!({"amount": "50", "method": "cash"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        // Two commands: one succeeded, one failed.
        let path = format!("/api/v1/meters/{meter}/commands");
        for to in [CommandState::Succeeded, CommandState::Failed] {
            let c = app
                .expect(
                    Method::POST,
                    &path,
                    &t,
                    Some(&json!({"action": "read_now"})),
                    202,
                )
                .await;
            let id: store::CommandId = c["id"].as_str().unwrap().parse().unwrap();
            store::command::transition(&app.db, id, to, None, None, Utc::now())
                .await
                .unwrap();
        }
        let today = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai);
        let meter_id: store::MeterId = meter.parse().unwrap();
        for (period, wh) in [
            (today.format("%Y-%m-%d").to_string(), 1_250),
            (today.format("%Y-%m").to_string(), 9_000),
        ] {
            store::daily::add_usage(
                &app.db,
                app.org_a,
                meter_id,
                Some(app.seeded.a.account),
                &period,
                wh,
                0,
            )
            .await
            .unwrap();
        }

        let o = app
            .expect(Method::GET, "/api/v1/stats/overview", &t, None, 200)
            .await;
        assert_eq!(o["accounts_total"], 1);
        assert_eq!(o["accounts_alarmed"], 0);
        assert_eq!(o["accounts_tripped"], 0);
        assert_eq!(o["accounts_protected"], 0);
        assert_eq!(o["balance_total"], "150.00");
        assert_eq!(o["topups_today"], "50.00");
        assert_eq!(o["today"]["topups_count"], 1);
        assert_eq!(o["month"]["topups"], "50.00");
        assert_eq!(o["consumption_today_kwh"], "1.250");
        assert_eq!(o["month"]["consumption_kwh"], "9.000");
        assert_eq!(o["command_success_rate"], "0.5000");
        assert_eq!(o["meters_total"], 1);
        assert_eq!(o["meters_offline"], 1, "no reading yet");
        assert_eq!(o["gateways_offline"], 1);

        let tb = app.access_token(&app.admin_b).await;
        let b = app
            .expect(Method::GET, "/api/v1/stats/overview", &tb, None, 200)
            .await;
        assert_eq!(b["balance_total"], "50.00");
        assert_eq!(b["topups_today"], "0.00");
        assert_eq!(b["meters_total"], 0);
        assert_eq!(b["command_success_rate"], Value::Null);
    }
}
