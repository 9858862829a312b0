//! Outbox claims: concurrent claimers never get the same row; completed rows are never claimed
//! again; failed rows come back at their retry time.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use store::outbox;
use store::testing::{backends, seed_two_orgs};
use store::TransactionTrait;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_overlap() -> anyhow::Result<()> {
    for db in backends().await {
        let s = seed_two_orgs(&db).await?;
        let total = 60_usize;
        for i in 0..total {
            outbox::enqueue(
                db.conn(),
                Some(s.a.org),
                "notify.sms",
                serde_json::json!({"n": i}),
            )
            .await?;
        }
        let mut tasks = Vec::new();
        for w in 0..4 {
            let conn = db.conn().clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch =
                        outbox::claim(&conn, &format!("w{w}"), 7, Duration::from_secs(60)).await?;
                    if batch.is_empty() {
                        break;
                    }
                    mine.extend(batch.into_iter().map(|m| m.id));
                }
                Ok::<_, store::StoreError>(mine)
            }));
        }
        let mut seen = HashSet::new();
        let mut count = 0;
        for task in tasks {
            for id in task.await?? {
                count += 1;
                assert!(seen.insert(id), "{}: row {id} claimed twice", db.backend());
            }
        }
        assert_eq!(count, total, "{}: every row claimed once", db.backend());
        // Leased rows are not claimable until the lease runs out.
        assert!(outbox::claim(&db, "late", 10, Duration::from_secs(60))
            .await?
            .is_empty());
    }
    Ok(())
}

#[tokio::test]
async fn complete_and_fail() -> anyhow::Result<()> {
    for db in backends().await {
        let s = seed_two_orgs(&db).await?;
        // Enqueued in a transaction that rolls back: never visible.
        let txn = db.begin().await?;
        outbox::enqueue(&txn, Some(s.a.org), "gone", serde_json::json!({})).await?;
        txn.rollback().await?;

        let done =
            outbox::enqueue(db.conn(), Some(s.a.org), "a", serde_json::json!({"x": 1})).await?;
        let retry = outbox::enqueue(db.conn(), None, "b", serde_json::json!({"y": 2})).await?;
        let claimed = outbox::claim(&db, "w", 10, Duration::from_secs(60)).await?;
        assert_eq!(
            claimed.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![done, retry]
        );
        assert_eq!(claimed[0].payload, serde_json::json!({"x": 1}));
        assert_eq!(claimed[0].attempts, 1);
        outbox::complete(db.conn(), done).await?;
        // Available again at once when the retry time has come.
        outbox::fail(
            db.conn(),
            retry,
            "smtp down",
            Utc::now() - chrono::Duration::seconds(1),
        )
        .await?;
        let again = outbox::claim(&db, "w", 10, Duration::from_secs(60)).await?;
        assert_eq!(again.len(), 1, "{}", db.backend());
        assert_eq!(again[0].id, retry);
        assert_eq!(again[0].attempts, 2);
        // A retry in the future is not claimable yet.
        outbox::fail(
            db.conn(),
            retry,
            "smtp down",
            Utc::now() + chrono::Duration::hours(1),
        )
        .await?;
        assert!(outbox::claim(&db, "w", 10, Duration::from_secs(60))
            .await?
            .is_empty());
        // A zero lease expires immediately, so a crashed worker's row comes back.
        let short = outbox::enqueue(db.conn(), None, "c", serde_json::json!(null)).await?;
        let first = outbox::claim(&db, "crashed", 10, Duration::ZERO).await?;
        assert_eq!(first[0].id, short);
        let second = outbox::claim(&db, "w", 10, Duration::from_secs(60)).await?;
        assert_eq!(second.iter().map(|m| m.id).collect::<Vec<_>>(), vec![short]);
    }
    Ok(())
}
