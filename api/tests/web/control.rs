//! The account page's power buttons: trip, close, protect and lift protection, each confirmed
//! first, CSRF-checked, refused where invariant 4 says so, and queued as commands with the
//! outbox rows the worker acts on.

use rust_decimal::Decimal;
use store::command::CommandAction;

use crate::support::{csrf_of, spawn_webs, WebApp, MANAGER_A, MANAGER_B};

/// A meter in organization A's seeded unit.
async fn add_meter(app: &WebApp) -> store::MeterId {
    let a = app.seeded.a;
    let gw = store::gateway::create(
        &app.db,
        a.org,
        store::gateway::NewGateway {
            site_id: a.site,
            gateway_id: "gw-control".into(),
            name: "DTU".into(),
            mqtt_password_hash: None,
        },
    )
    .await
    .unwrap();
    store::meter::create(
        &app.db,
        a.org,
        store::meter::NewMeter {
            gateway_id: gw.id,
            unit_id: Some(a.unit),
            bus: "rs485-1".into(),
            slave: 1,
            wire_id: "m-201".into(),
            model: None,
            register_map: None,
            ct_ratio: Decimal::ONE,
            max_power_kw: Decimal::from(20),
        },
    )
    .await
    .unwrap()
    .id
}

async fn commands(app: &WebApp, meter: store::MeterId) -> Vec<store::command::Command> {
    store::command::list_for_meter(&app.db, app.seeded.a.org, meter, store::Page::new(1, 50))
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn trip_asks_first_then_queues_a_command_and_tells_charge_control() {
    for app in spawn_webs().await {
        let meter = add_meter(&app).await;
        let id = app.seeded.a.account;
        let no = app.account_no_a().await;
        let client = app.signed_in(MANAGER_A).await;
        let page = format!("/accounts/{id}");
        let (status, html) = app.get(&client, &page).await;
        assert_eq!(status, 200, "{}", app.backend);
        assert!(html.contains("id=\"control-trip\""), "{html}");
        let csrf = csrf_of(&html);
        let action = format!("/accounts/{id}/control");

        let res = app
            .post(
                &client,
                &action,
                &[("csrf", "forged"), ("confirmed", "1"), ("action", "trip")],
            )
            .await;
        assert_eq!(res.status(), 403);

        let res = app
            .post(
                &client,
                &action,
                &[("csrf", &csrf), ("confirmed", "0"), ("action", "trip")],
            )
            .await;
        assert_eq!(res.status(), 200);
        let confirm = res.text().await.unwrap();
        assert!(
            confirm.contains(&format!("确认对账户 {no} 拉闸断电？")),
            "{confirm}"
        );
        assert!(
            commands(&app, meter).await.is_empty(),
            "nothing before confirming"
        );

        let res = app
            .post(
                &client,
                &action,
                &[("csrf", &csrf), ("confirmed", "1"), ("action", "trip")],
            )
            .await;
        assert_eq!(res.status(), 303);
        assert_eq!(
            res.headers()["location"],
            format!("/accounts/{id}?done=trip").as_str()
        );
        let queued = commands(&app, meter).await;
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].action().unwrap(), CommandAction::Trip);
        assert_eq!(queued[0].seq, 1);

        let messages =
            store::outbox::claim(&app.db, "test", 100, std::time::Duration::from_secs(60))
                .await
                .unwrap();
        let kinds: Vec<_> = messages.iter().map(|m| m.kind.as_str()).collect();
        assert!(
            kinds.contains(&store::outbox::kind::COMMAND_QUEUED),
            "{kinds:?}"
        );
        let control = messages
            .iter()
            .find(|m| m.kind == store::outbox::kind::ACCOUNT_CONTROL_CHANGED)
            .expect("charge control is told");
        assert_eq!(control.payload["action"], "force_trip");

        let (_, html) = app.get(&client, &format!("/accounts/{id}?done=trip")).await;
        assert!(html.contains("已下发拉闸指令"));
        assert!(html.contains("m-201 #1"), "the command is listed: {html}");

        // Another organization's manager cannot reach the account.
        let other = app.signed_in(MANAGER_B).await;
        let (_, html_b) = app.get(&other, "/").await;
        let res = app
            .post(
                &other,
                &action,
                &[
                    ("csrf", &csrf_of(&html_b)),
                    ("confirmed", "1"),
                    ("action", "trip"),
                ],
            )
            .await;
        assert_eq!(res.status(), 404);
        assert_eq!(commands(&app, meter).await.len(), 1);
    }
}

#[tokio::test]
async fn protection_needs_a_reason_and_stops_a_trip() {
    for app in spawn_webs().await {
        let meter = add_meter(&app).await;
        let id = app.seeded.a.account;
        let client = app.signed_in(MANAGER_A).await;
        let (_, html) = app.get(&client, &format!("/accounts/{id}")).await;
        let csrf = csrf_of(&html);
        let action = format!("/accounts/{id}/control");

        let res = app
            .post(
                &client,
                &action,
                &[("csrf", &csrf), ("confirmed", "1"), ("action", "protect")],
            )
            .await;
        assert_eq!(res.status(), 422, "{}", app.backend);
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("id=\"reason-error\" role=\"alert\">请填写保电原因"));

        let form = [
            ("csrf", csrf.as_str()),
            ("confirmed", "1"),
            ("action", "protect"),
            ("reason", "老人独居"),
        ];
        let res = app.post(&client, &action, &form).await;
        assert_eq!(res.status(), 303);
        let a = store::account::get(&app.db, app.seeded.a.org, id)
            .await
            .unwrap();
        assert!(a.protected);
        assert_eq!(a.protect_reason.as_deref(), Some("老人独居"));

        let res = app
            .post(
                &client,
                &action,
                &[("csrf", &csrf), ("confirmed", "1"), ("action", "trip")],
            )
            .await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(html.contains("账户处于保电状态，请先解除保电"), "{html}");
        assert!(html.contains("id=\"control-unprotect\""));
        assert!(commands(&app, meter).await.is_empty());

        let res = app
            .post(
                &client,
                &action,
                &[("csrf", &csrf), ("confirmed", "1"), ("action", "unprotect")],
            )
            .await;
        assert_eq!(res.status(), 303);
        let a = store::account::get(&app.db, app.seeded.a.org, id)
            .await
            .unwrap();
        assert!(!a.protected);
    }
}

#[tokio::test]
async fn close_is_refused_at_or_below_the_trip_threshold() {
    for app in spawn_webs().await {
        let meter = add_meter(&app).await;
        let (org, id) = (app.seeded.a.org, app.seeded.a.account);
        store::ledger::post_ledger_entry(
            &app.db,
            org,
            store::ledger::NewEntry {
                account_id: id,
                kind: store::LedgerKind::Charge,
                amount: domain::Money::from_fen(-10_000),
                idempotency_key: format!("drain:{id}"),
                corrects: None,
                memo: None,
                created_by: None,
            },
        )
        .await
        .unwrap();
        let client = app.signed_in(MANAGER_A).await;
        let (_, html) = app.get(&client, &format!("/accounts/{id}")).await;
        let csrf = csrf_of(&html);
        let res = app
            .post(
                &client,
                &format!("/accounts/{id}/control"),
                &[("csrf", &csrf), ("confirmed", "1"), ("action", "close")],
            )
            .await;
        assert_eq!(res.status(), 422, "{}", app.backend);
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("余额低于断电阈值，请先充值"));
        assert!(commands(&app, meter).await.is_empty());
    }
}
