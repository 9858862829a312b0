//! Meter commands on every backend: seqs increase by one per meter, also under concurrent
//! queuing; acks move a command once and late or duplicated acks change nothing; another
//! organization cannot queue for a meter it does not own.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, Utc};
use rust_decimal::Decimal;
use store::command::{self, CommandAction};
use store::gateway::NewGateway;
use store::meter::NewMeter;
use store::testing::{backends, seed_two_orgs};
use store::{gateway, meter, outbox, CommandState, MeterId, OrgId, StoreError, TransactionTrait};

async fn a_meter(db: &store::DatabaseConnection, org: OrgId, site: store::SiteId) -> MeterId {
    let gw = gateway::create(
        db,
        org,
        NewGateway {
            site_id: site,
            gateway_id: format!("gw-{}", uuid::Uuid::new_v4().simple()),
            name: "DTU".into(),
            mqtt_password_hash: None,
        },
    )
    .await
    .unwrap();
    meter::create(
        db,
        org,
        NewMeter {
            gateway_id: gw.id,
            unit_id: None,
            bus: "rs485-1".into(),
            slave: 1,
            wire_id: "m-101".into(),
            model: Some("acrel-ddsy1352".into()),
            register_map: None,
            ct_ratio: Decimal::ONE,
            max_power_kw: Decimal::from(10),
        },
    )
    .await
    .unwrap()
    .id
}

#[tokio::test]
async fn seqs_increase_by_one_and_acks_move_a_command_once() -> anyhow::Result<()> {
    for db in backends().await {
        let seeded = seed_two_orgs(&db).await?;
        let (a, b) = (seeded.a, seeded.b);
        let m = a_meter(&db, a.org, a.site).await;
        let expires = Utc::now() + Duration::minutes(10);

        let txn = db.begin().await?;
        let first =
            command::queue_command(&txn, a.org, m, CommandAction::Trip, expires, Some(a.admin))
                .await?;
        let second =
            command::queue_command(&txn, a.org, m, CommandAction::Close, expires, None).await?;
        txn.commit().await?;
        assert_eq!((first.seq, second.seq), (1, 2), "{}", db.backend());
        assert_eq!(first.state, CommandState::Queued);
        assert_eq!(first.requested_by, Some(a.admin));
        assert_eq!(second.action()?, CommandAction::Close);

        // The worker learns of each through the outbox.
        let claimed = outbox::claim(&db, "t", 10, std::time::Duration::from_secs(30)).await?;
        let queued: Vec<_> = claimed
            .iter()
            .filter(|m| m.kind == outbox::kind::COMMAND_QUEUED)
            .map(|m| m.payload["command_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(queued, [first.id.to_string(), second.id.to_string()]);

        // Another organization cannot queue for A's meter.
        let txn = db.begin().await?;
        let res = command::queue_command(&txn, b.org, m, CommandAction::Trip, expires, None).await;
        assert!(matches!(res, Err(StoreError::NotFound)));
        txn.rollback().await?;

        let now = Utc::now();
        let sent = command::mark_sent(db.conn(), first.id, now, now + Duration::seconds(5))
            .await?
            .unwrap();
        assert_eq!((sent.state, sent.attempts), (CommandState::Sent, 1));
        let due = command::due(db.conn(), now + Duration::seconds(6), 10).await?;
        assert!(due.iter().any(|c| c.id == first.id));

        let done = command::transition(
            db.conn(),
            first.id,
            CommandState::Succeeded,
            Some("open"),
            None,
            now,
        )
        .await?
        .unwrap();
        assert_eq!(done.relay.as_deref(), Some("open"));
        assert!(done.next_attempt_at.is_none());
        // A duplicated ack changes nothing.
        let again =
            command::transition(db.conn(), first.id, CommandState::Failed, None, None, now).await?;
        assert!(again.is_none());
        assert_eq!(
            command::get(db.conn(), a.org, first.id).await?.state,
            CommandState::Succeeded
        );
        assert!(matches!(
            command::get(db.conn(), b.org, first.id).await,
            Err(StoreError::NotFound)
        ));
        let found = command::find_by_seq(db.conn(), a.org, m, 2).await?.unwrap();
        assert_eq!(found.id, second.id);
    }
    Ok(())
}

#[tokio::test]
async fn concurrent_queuing_never_reuses_a_seq() -> anyhow::Result<()> {
    for db in backends().await {
        let seeded = seed_two_orgs(&db).await?;
        let a = seeded.a;
        let m = a_meter(&db, a.org, a.site).await;
        let expires = Utc::now() + Duration::minutes(10);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let conn = db.conn().clone();
            tasks.push(tokio::spawn(async move {
                let txn = conn.begin().await?;
                let c =
                    command::queue_command(&txn, a.org, m, CommandAction::ReadNow, expires, None)
                        .await?;
                txn.commit().await?;
                Ok::<_, anyhow::Error>(c.seq)
            }));
        }
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await??);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=8).collect::<Vec<i64>>(), "{}", db.backend());
    }
    Ok(())
}
