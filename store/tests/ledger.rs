//! Ledger invariants on every backend: a key credits once, balances equal the sum of their
//! entries, and nobody posts to another organization's account.
#![allow(clippy::unwrap_used)]

use domain::Money;
use store::ledger::{self, post_ledger_entry, NewEntry};
use store::testing::{backends, seed_two_orgs};
use store::{AccountId, LedgerKind, Page, StoreError, TransactionTrait};

fn entry(account: AccountId, kind: LedgerKind, fen: i64, key: &str) -> NewEntry {
    NewEntry {
        account_id: account,
        kind,
        amount: Money::from_fen(fen),
        idempotency_key: key.to_owned(),
        corrects: None,
        memo: None,
        created_by: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_postings_with_one_key_credit_once() -> anyhow::Result<()> {
    for db in backends().await {
        let seed = seed_two_orgs(&db).await?;
        let a = seed.a;
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let conn = db.conn().clone();
            tasks.push(tokio::spawn(async move {
                post_ledger_entry(
                    &conn,
                    a.org,
                    entry(a.account, LedgerKind::Topup, 5_000, "pay:wechat:42"),
                )
                .await
            }));
        }
        let mut fresh = 0;
        let mut ids = Vec::new();
        for task in tasks {
            let posting = task.await??;
            if !posting.duplicate {
                fresh += 1;
            }
            ids.push(posting.entry.id);
        }
        assert_eq!(fresh, 1, "{}: exactly one posting is new", db.backend());
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{}", db.backend());
        assert_eq!(
            ledger::balance_of(db.conn(), a.org, a.account).await?,
            Money::from_fen(15_000),
            "{}: ¥100 opening + one ¥50 top-up",
            db.backend()
        );
        let entries = ledger::entries_of(db.conn(), a.org, a.account, Page::all()).await?;
        assert_eq!(entries.total, 2, "{}: opening and one top-up", db.backend());
        // Again without the replay fast path, so every task reaches the insert and the
        // losers must take the conflict path inside their transaction.
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let conn = db.conn().clone();
            tasks.push(tokio::spawn(async move {
                let txn = conn.begin().await?;
                let posting = ledger::post_in_txn(
                    &txn,
                    a.org,
                    entry(a.account, LedgerKind::Charge, -1_234, "charge:m1:0-100"),
                )
                .await?;
                txn.commit().await?;
                Ok::<_, StoreError>(posting.duplicate)
            }));
        }
        let mut fresh = 0;
        for task in tasks {
            if !task.await?? {
                fresh += 1;
            }
        }
        assert_eq!(fresh, 1, "{}: one charge, seven duplicates", db.backend());
        assert_eq!(
            ledger::balance_of(db.conn(), a.org, a.account).await?,
            Money::from_fen(15_000 - 1_234)
        );
        assert!(ledger::verify_balances(db.conn()).await?.is_empty());
    }
    Ok(())
}

/// A tiny deterministic generator: the test must be reproducible, not merely random.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test]
async fn balance_is_the_sum_of_entries_after_any_postings() -> anyhow::Result<()> {
    for db in backends().await {
        let seed = seed_two_orgs(&db).await?;
        let mut rng = XorShift(0x5eed_1234_abcd_0042);
        let kinds = [
            LedgerKind::Topup,
            LedgerKind::Charge,
            LedgerKind::Adjustment,
            LedgerKind::Refund,
        ];
        let mut expected = [10_000_i64, 5_000_i64];
        let mut posted_keys = Vec::new();
        for i in 0..120 {
            let which = usize::try_from(rng.next() % 2)?;
            let org = if which == 0 { seed.a } else { seed.b };
            let replay = !posted_keys.is_empty() && rng.next() % 4 == 0;
            let (key, fen, owner) = if replay {
                let idx = usize::try_from(rng.next())? % posted_keys.len();
                posted_keys[idx]
            } else {
                // Charges may overdraw: balances are allowed to go negative.
                let fen = i64::try_from(rng.next() % 20_001)? - 10_000;
                (i, fen, which)
            };
            let org = if replay {
                if owner == 0 {
                    seed.a
                } else {
                    seed.b
                }
            } else {
                org
            };
            let kind = kinds[usize::try_from(rng.next())? % kinds.len()];
            let posting = post_ledger_entry(
                &db,
                org.org,
                entry(org.account, kind, fen, &format!("k{key}")),
            )
            .await?;
            assert_eq!(posting.duplicate, replay, "{}", db.backend());
            assert_eq!(posting.entry.amount_fen, fen);
            if !replay {
                expected[owner] += fen;
                posted_keys.push((key, fen, owner));
                assert_eq!(posting.entry.balance_after_fen, expected[owner]);
            }
        }
        assert_eq!(
            ledger::balance_of(db.conn(), seed.a.org, seed.a.account).await?,
            Money::from_fen(expected[0])
        );
        assert_eq!(
            ledger::balance_of(db.conn(), seed.b.org, seed.b.account).await?,
            Money::from_fen(expected[1])
        );
        assert_eq!(
            ledger::verify_balances(db.conn()).await?,
            vec![],
            "{}",
            db.backend()
        );
    }
    Ok(())
}

#[tokio::test]
async fn posting_to_another_orgs_account_is_not_found_and_changes_nothing() -> anyhow::Result<()> {
    for db in backends().await {
        let seed = seed_two_orgs(&db).await?;
        let err = post_ledger_entry(
            &db,
            seed.b.org,
            entry(seed.a.account, LedgerKind::Topup, 999, "cross-org"),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound),
            "{}: {err}",
            db.backend()
        );
        assert_eq!(
            ledger::balance_of(db.conn(), seed.a.org, seed.a.account).await?,
            Money::from_fen(10_000)
        );
        assert!(
            ledger::find_entry_by_key(db.conn(), seed.a.org, "cross-org")
                .await?
                .is_none()
        );
        assert!(
            ledger::find_entry_by_key(db.conn(), seed.b.org, "cross-org")
                .await?
                .is_none()
        );
        // The key is still free: the rightful owner can use it.
        let ok = post_ledger_entry(
            &db,
            seed.a.org,
            entry(seed.a.account, LedgerKind::Topup, 999, "cross-org"),
        )
        .await?;
        assert!(!ok.duplicate);
        // ... and replaying it from the other organization reveals nothing.
        let err = post_ledger_entry(
            &db,
            seed.b.org,
            entry(seed.b.account, LedgerKind::Topup, 999, "cross-org"),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, StoreError::Duplicate),
            "{}: {err}",
            db.backend()
        );
        assert_eq!(
            ledger::balance_of(db.conn(), seed.b.org, seed.b.account).await?,
            Money::from_fen(5_000)
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_reversal_points_at_the_entry_it_corrects() -> anyhow::Result<()> {
    for db in backends().await {
        let seed = seed_two_orgs(&db).await?;
        let a = seed.a;
        let topup = post_ledger_entry(&db, a.org, entry(a.account, LedgerKind::Topup, 2_000, "t1"))
            .await?
            .entry;
        let err = post_ledger_entry(
            &db,
            a.org,
            entry(a.account, LedgerKind::Reversal, -2_000, "r0"),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)));
        let mut reversal = entry(a.account, LedgerKind::Reversal, -2_000, "r1");
        reversal.corrects = Some(topup.id);
        let posted = post_ledger_entry(&db, a.org, reversal).await?;
        assert_eq!(posted.entry.corrects_entry_id, Some(topup.id));
        assert_eq!(posted.entry.balance_after(), Money::from_fen(10_000));
        // Correcting an entry of another organization's account is not found.
        let mut foreign = entry(seed.b.account, LedgerKind::Reversal, -2_000, "r2");
        foreign.corrects = Some(topup.id);
        let err = post_ledger_entry(&db, seed.b.org, foreign)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound));
        assert!(ledger::verify_balances(db.conn()).await?.is_empty());
    }
    Ok(())
}
