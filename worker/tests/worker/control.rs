//! Charge control end to end through the step functions: consumption raises the alarm and
//! trips the relay; a top-up recorded with its outbox row restores it at once; notifications go
//! out once per transition.

use chrono::Duration;
use domain::Money;
use protocol::{AckStatus, Action, RelayState};
use store::ledger::NewEntry;
use store::testing::backends;
use store::{LedgerKind, TransactionTrait};

use super::helpers::{t0, World};

#[tokio::test]
async fn exhausted_balance_trips_and_a_top_up_restores() {
    for db in backends().await {
        let backend = db.backend();
        let w = World::new(db, Money::from_fen(2_500)).await;
        // ¥25 at ¥1/kWh: 10 kWh brings it to ¥15 (alarm), 20 more to -¥5 (trip).
        w.worker
            .ingest_batch(&w.batch(1, &[(0, "100.00"), (60, "110.00")]), t0())
            .await
            .unwrap();
        w.worker.rate_pending(t0()).await.unwrap();
        // The alarm: a notification only, no `alarm_on` (the meter's map has no alarm register).
        assert!(w.commands().is_empty(), "{backend}: {:?}", w.commands());
        assert_eq!(w.worker.process_outbox_once(t0()).await.unwrap(), 1);
        assert_eq!(w.sms_texts().len(), 1, "{backend}");
        // Readings arriving again do not raise a second alarm.
        w.worker
            .ingest_batch(&w.batch(2, &[(70, "110.50")]), t0())
            .await
            .unwrap();
        w.worker.rate_pending(t0()).await.unwrap();
        assert!(w.commands().is_empty());
        assert_eq!(w.worker.process_outbox_once(t0()).await.unwrap(), 0);

        w.worker
            .ingest_batch(&w.batch(3, &[(180, "130.50")]), t0())
            .await
            .unwrap();
        w.worker.rate_pending(t0()).await.unwrap();
        assert_eq!(w.balance().await, Money::from_fen(-550));
        let trip = w
            .commands()
            .into_iter()
            .find(|c| c.action == Action::Trip)
            .expect("a trip");
        assert_eq!(trip.seq, 1, "the meter's first command");
        // The agent executed it and read the relay back open.
        let ack = World::ack(&trip, AckStatus::Executed, Some(RelayState::Open));
        w.worker.handle_ack(&w.gateway, &ack, t0()).await.unwrap();
        // A duplicated ack changes nothing.
        w.worker.handle_ack(&w.gateway, &ack, t0()).await.unwrap();
        let c = store::command::find_by_seq(w.db.conn(), w.org.org, w.meter, 1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.state, store::CommandState::Succeeded);
        let snap = w.worker.live().get(w.account.id).await.unwrap().unwrap();
        assert_eq!(snap.cc_state, "tripped");
        assert_eq!(snap.relay.as_deref(), Some("open"));

        // A payment: ledger entry and outbox row in one transaction, as payments writes them.
        let txn = w.db.begin().await.unwrap();
        store::ledger::post_in_txn(
            &txn,
            w.org.org,
            NewEntry {
                account_id: w.account.id,
                kind: LedgerKind::Topup,
                amount: Money::from_fen(5_000),
                idempotency_key: "pay:test-1".into(),
                corrects: None,
                memo: None,
                created_by: None,
            },
        )
        .await
        .unwrap();
        store::outbox::enqueue(
            &txn,
            Some(w.org.org),
            store::outbox::kind::BALANCE_CHANGED,
            serde_json::json!({"account_id": w.account.id}),
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
        let before = w.commands().len();
        let started = std::time::Instant::now();
        w.worker
            .process_outbox_once(t0() + Duration::minutes(181))
            .await
            .unwrap();
        let close = w.commands()[before..]
            .iter()
            .find(|c| c.action == Action::Close)
            .cloned()
            .expect("a close");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{backend}"
        );
        w.worker
            .handle_ack(
                &w.gateway,
                &World::ack(&close, AckStatus::Executed, Some(RelayState::Closed)),
                t0(),
            )
            .await
            .unwrap();
        let snap = w.worker.live().get(w.account.id).await.unwrap().unwrap();
        assert_eq!(snap.balance, Money::from_fen(4_450));
        assert_eq!(snap.relay.as_deref(), Some("closed"));
        assert_ne!(snap.cc_state, "tripped");

        // The tenant heard about each transition once: low balance, power cut, power restored.
        while w.worker.process_outbox_once(t0()).await.unwrap() > 0 {}
        let texts = w.sms_texts();
        assert_eq!(texts.len(), 3, "{backend}: {texts:?}");
        assert!(
            texts[0].contains("余额不足") || texts[0].contains("below the alarm"),
            "{texts:?}"
        );
        assert!(
            texts[1].contains("Power to account") && texts[1].contains("was cut"),
            "{texts:?}"
        );
        assert!(texts[2].contains("restored"), "{texts:?}");
        w.assert_ledger_balanced().await;
    }
}

#[tokio::test]
async fn no_trip_outside_the_trip_window() {
    let db = store::testing::TestDb::sqlite().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = super::helpers::settings(dir.path());
    settings.trip_windows = "working_hours".into();
    let w = World::with_settings(db, Money::from_fen(500), settings, dir).await;
    // 02:00 UTC is 10:00 in Shanghai on a Monday: inside; 15:00 UTC is 23:00: outside.
    let night = t0() + Duration::hours(13);
    w.worker
        .ingest_batch(&w.batch(1, &[(0, "100.00"), (780, "110.00")]), night)
        .await
        .unwrap();
    w.worker.rate_pending(night).await.unwrap();
    let actions: Vec<Action> = w.commands().iter().map(|c| c.action).collect();
    assert!(actions.is_empty(), "no trip at night: {actions:?}");
    // The next morning the window opens and the tick trips.
    let morning = t0() + Duration::days(1);
    w.worker.tick(morning).await.unwrap();
    let actions: Vec<Action> = w.commands().iter().map(|c| c.action).collect();
    assert_eq!(actions, [Action::Trip]);
}
