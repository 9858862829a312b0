//! Commands: an operator's command is published from the outbox, resent with the same seq
//! when no ack comes, then failed with a work order; an offline gateway holds commands.

use chrono::{Duration, Utc};
use domain::Money;
use store::command::CommandAction;
use store::testing::backends;
use store::{CommandState, TransactionTrait};

use super::helpers::World;

#[tokio::test]
async fn unacknowledged_commands_are_resent_with_the_same_seq_then_fail() {
    for db in backends().await {
        let w = World::new(db, Money::from_fen(10_000)).await;
        let now = Utc::now();
        let txn = w.db.begin().await.unwrap();
        let cmd = store::command::queue_command(
            &txn,
            w.org.org,
            w.meter,
            CommandAction::Trip,
            now + Duration::hours(1),
            Some(w.org.admin),
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
        w.worker.process_outbox_once(now).await.unwrap();
        assert_eq!(w.commands().len(), 1);
        // Nothing is due before the timeout.
        w.worker.tick(now + Duration::seconds(5)).await.unwrap();
        assert_eq!(w.commands().len(), 1);
        // 10 s, then 20 s more: two resends; 40 s after that the third attempt has run out.
        w.worker.tick(now + Duration::seconds(11)).await.unwrap();
        w.worker.tick(now + Duration::seconds(32)).await.unwrap();
        w.worker.tick(now + Duration::seconds(73)).await.unwrap();
        let sent = w.commands();
        assert_eq!(sent.len(), 3, "{}", w.db.backend());
        assert!(sent
            .iter()
            .all(|c| c.seq == 1 && c.id.as_str() == cmd.id.to_string()));
        let c = store::command::get(w.db.conn(), w.org.org, cmd.id)
            .await
            .unwrap();
        assert_eq!((c.state, c.attempts), (CommandState::Failed, 3));
        let orders = store::work_order::list_open(w.db.conn(), w.org.org, Some("command_failed"))
            .await
            .unwrap();
        assert_eq!(orders.len(), 1);
        assert!(orders[0].title.contains("m-201"), "{}", orders[0].title);
    }
}

#[tokio::test]
async fn unsupported_fails_without_retry_and_an_offline_gateway_holds_commands() {
    let db = store::testing::TestDb::sqlite().await.unwrap();
    let w = World::new(db, Money::from_fen(10_000)).await;
    let now = Utc::now();
    let gw = protocol::GatewayId::parse(&w.gateway).unwrap();
    let status = |online: bool| protocol::GatewayStatus {
        v: protocol::V1,
        gateway: gw.clone(),
        online,
        agent_version: "0.3.0".into(),
        buses: vec![],
        ts: now,
        config_version: Some(3),
        config_error: None,
        queue_len: None,
        dropped_readings: None,
        rejected_commands: None,
        clock_ok: Some(true),
    };
    w.worker.handle_status(&status(false), now).await.unwrap();
    let queue = |action| {
        let conn = w.db.conn().clone();
        let (org, meter) = (w.org.org, w.meter);
        async move {
            let txn = conn.begin().await.unwrap();
            let c = store::command::queue_command(
                &txn,
                org,
                meter,
                action,
                now + Duration::hours(1),
                None,
            )
            .await
            .unwrap();
            txn.commit().await.unwrap();
            c
        }
    };
    queue(CommandAction::AlarmOn).await;
    w.worker.process_outbox_once(now).await.unwrap();
    w.worker.tick(now + Duration::seconds(30)).await.unwrap();
    assert!(w.commands().is_empty(), "held while the gateway is offline");
    let offline = store::work_order::list_open(w.db.conn(), w.org.org, Some("gateway_offline"))
        .await
        .unwrap();
    assert_eq!(offline.len(), 1);
    w.worker.handle_status(&status(true), now).await.unwrap();
    let sent = w.commands();
    assert_eq!(sent.len(), 1, "sent once the gateway is back");
    assert!(
        store::work_order::list_open(w.db.conn(), w.org.org, Some("gateway_offline"))
            .await
            .unwrap()
            .is_empty()
    );
    w.worker
        .handle_ack(
            &w.gateway,
            &World::ack(&sent[0], protocol::AckStatus::Unsupported, None),
            now,
        )
        .await
        .unwrap();
    w.worker.tick(now + Duration::minutes(5)).await.unwrap();
    assert_eq!(w.commands().len(), 1, "no retry after unsupported");
    let c = store::command::find_by_seq(w.db.conn(), w.org.org, w.meter, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.state, CommandState::Failed);
    assert!(
        store::work_order::list_open(w.db.conn(), w.org.org, Some("command_failed"))
            .await
            .unwrap()
            .is_empty()
    );
}
