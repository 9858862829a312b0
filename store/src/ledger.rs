//! Posting to the ledger: the only way a balance changes.
//!
//! One posting is one transaction (a savepoint inside a caller's transaction) that adds the
//! signed amount to the account's running balance with `UPDATE ... SET balance_fen =
//! balance_fen + $1` and appends the entry with the resulting `balance_after_fen`. The entry's
//! idempotency key is unique: posting the same key again changes nothing and answers the
//! existing entry with `duplicate: true`, also when two posters race (the account row lock
//! orders them; the loser's insert conflicts and its savepoint is rolled back).

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::Utc;
use domain::Money;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement, TransactionTrait,
};

use crate::entity::{account, ledger_entry};
use crate::error::inserted_or_conflict;
use crate::money::to_fen;
use crate::page::{fetch, Page, Paged};
use crate::scope::Scope;
use crate::{AccountId, LedgerEntry, LedgerEntryId, LedgerKind, OrgId, StoreError, UserId};

pub use crate::unscoped::{verify_balances, Mismatch};

/// An entry to post.
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub account_id: AccountId,
    pub kind: LedgerKind,
    /// Signed: credits (top-ups) positive, debits (charges) negative. Rounded half-up to fen.
    pub amount: Money,
    /// Payment transaction id, reading range, command id, ...: one key, one entry, ever.
    pub idempotency_key: String,
    /// The entry this one corrects (required for a `reversal`).
    pub corrects: Option<LedgerEntryId>,
    pub memo: Option<String>,
    pub created_by: Option<UserId>,
}

/// The outcome of a posting: the entry, and whether it already existed (nothing changed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posting {
    pub entry: LedgerEntry,
    pub duplicate: bool,
}

/// Posts an entry in its own transaction. See the module docs for the guarantees.
pub async fn post_ledger_entry(
    db: &DatabaseConnection,
    org: OrgId,
    new: NewEntry,
) -> Result<Posting, StoreError> {
    // Replays are the common duplicate (payment callbacks retried): answer them without
    // taking the account's row lock.
    if let Some(existing) = find_by_key(db, &new.idempotency_key).await? {
        return duplicate_of(existing, org);
    }
    let txn = db.begin().await?;
    let posting = post_in_txn(&txn, org, new).await?;
    txn.commit().await?;
    Ok(posting)
}

/// Posts an entry inside the caller's transaction (e.g. with an outbox row), in a savepoint so
/// that a duplicate key undoes only this posting. On SQLite, call it before the transaction
/// reads anything, or the write may meet a busy snapshot.
pub async fn post_in_txn(
    txn: &DatabaseTransaction,
    org: OrgId,
    new: NewEntry,
) -> Result<Posting, StoreError> {
    let amount_fen = to_fen(new.amount)?;
    if new.idempotency_key.trim().is_empty() {
        return Err(StoreError::Invalid("idempotency key is empty".into()));
    }
    if new.kind == LedgerKind::Reversal && new.corrects.is_none() {
        return Err(StoreError::Invalid(
            "a reversal must name the entry it corrects".into(),
        ));
    }
    let sp = txn.begin().await?;
    // The write comes first so the account row (PostgreSQL) or the database (SQLite) is
    // locked before anything is read; concurrent postings to one account queue up here.
    let updated = account::Entity::update_many()
        .col_expr(
            account::Column::BalanceFen,
            Expr::col(account::Column::BalanceFen).add(amount_fen),
        )
        .filter(account::Column::Id.eq(new.account_id))
        .filter(account::Column::OrganizationId.eq(org))
        .exec(&sp)
        .await?;
    if updated.rows_affected != 1 {
        sp.rollback().await?;
        return Err(StoreError::NotFound);
    }
    if let Some(corrected) = new.corrects {
        let found = ledger_entry::Entity::find_by_id(corrected)
            .filter(ledger_entry::Column::OrganizationId.eq(org))
            .filter(ledger_entry::Column::AccountId.eq(new.account_id))
            .one(&sp)
            .await?;
        if found.is_none() {
            sp.rollback().await?;
            return Err(StoreError::NotFound);
        }
    }
    let balance_after_fen: i64 = account::Entity::find_by_id(new.account_id)
        .select_only()
        .column(account::Column::BalanceFen)
        .into_tuple()
        .one(&sp)
        .await?
        .ok_or(StoreError::NotFound)?;
    let row = ledger_entry::ActiveModel {
        organization_id: Set(org),
        account_id: Set(new.account_id),
        kind: Set(new.kind),
        amount_fen: Set(amount_fen),
        balance_after_fen: Set(balance_after_fen),
        idempotency_key: Set(new.idempotency_key.clone()),
        corrects_entry_id: Set(new.corrects),
        memo: Set(new.memo),
        created_by: Set(new.created_by),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    // DO NOTHING instead of catching the unique violation: on PostgreSQL it waits for a racing
    // poster of the same key to finish and then conflicts without aborting the transaction.
    let inserted = ledger_entry::Entity::insert(row)
        .on_conflict(
            OnConflict::column(ledger_entry::Column::IdempotencyKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_with_returning(&sp)
        .await;
    if let Some(entry) = inserted_or_conflict(inserted)? {
        sp.commit().await?;
        return Ok(Posting {
            entry,
            duplicate: false,
        });
    }
    sp.rollback().await?;
    let existing = find_by_key(txn, &new.idempotency_key)
        .await?
        .ok_or(StoreError::NotFound)?;
    duplicate_of(existing, org)
}

/// Entries and balance rows per multi-row statement.
const ROWS_PER_STATEMENT: usize = 1_000;

/// Posts many entries in two multi-row statements inside the caller's transaction: the entries
/// (each with its `balance_after`, worked out here from `balances`) and one `UPDATE ... FROM
/// (VALUES ...)` adding each account's total. For bulk posters (rating) that already hold the
/// accounts' row locks ([`crate::account::lock_many`]) and pass the locked balances in
/// `balances` (fen, by account; updated here). Several entries of one account chain their
/// `balance_after` in the order given.
///
/// Idempotency keys stay unique: if any key was posted before, nothing is applied and the
/// answer is [`StoreError::Duplicate`] (the caller rolls back). A caller that derives keys
/// from state it holds locked (a meter's rated range) never meets that.
///
/// Answers each entry's `balance_after_fen`, in order.
pub async fn post_many_locked<S: std::hash::BuildHasher>(
    txn: &DatabaseTransaction,
    balances: &mut HashMap<AccountId, i64, S>,
    entries: &[(OrgId, NewEntry)],
) -> Result<Vec<i64>, StoreError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let mut after = Vec::with_capacity(entries.len());
    let mut deltas: Vec<(AccountId, OrgId, i64)> = Vec::new();
    let mut delta_of: HashMap<AccountId, usize> = HashMap::new();
    let mut rows = Vec::with_capacity(entries.len());
    for (org, new) in entries {
        if new.idempotency_key.trim().is_empty() {
            return Err(StoreError::Invalid("idempotency key is empty".into()));
        }
        if new.kind == LedgerKind::Reversal {
            return Err(StoreError::Invalid(
                "reversals are posted one at a time".into(),
            ));
        }
        let amount_fen = to_fen(new.amount)?;
        let balance = balances
            .get_mut(&new.account_id)
            .ok_or(StoreError::NotFound)?;
        *balance += amount_fen;
        after.push(*balance);
        if let Some(&i) = delta_of.get(&new.account_id) {
            deltas[i].2 += amount_fen;
        } else {
            delta_of.insert(new.account_id, deltas.len());
            deltas.push((new.account_id, *org, amount_fen));
        }
        rows.push(ledger_entry::ActiveModel {
            organization_id: Set(*org),
            account_id: Set(new.account_id),
            kind: Set(new.kind),
            amount_fen: Set(amount_fen),
            balance_after_fen: Set(*balance),
            idempotency_key: Set(new.idempotency_key.clone()),
            corrects_entry_id: Set(None),
            memo: Set(new.memo.clone()),
            created_by: Set(new.created_by),
            created_at: Set(now),
            ..Default::default()
        });
    }
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        let n = chunk.len() as u64;
        let res = ledger_entry::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::column(ledger_entry::Column::IdempotencyKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await;
        let inserted = match res {
            Ok(k) => k,
            Err(sea_orm::DbErr::RecordNotInserted) => 0,
            Err(e) => return Err(e.into()),
        };
        if inserted != n {
            return Err(StoreError::Duplicate);
        }
    }
    let backend = txn.get_database_backend();
    for chunk in deltas.chunks(ROWS_PER_STATEMENT) {
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 3);
        let mut list = String::with_capacity(chunk.len() * 16);
        for (i, (account, org, delta)) in chunk.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            if backend == DbBackend::Postgres {
                let b = i * 3;
                let _ = write!(
                    list,
                    "(${}::uuid, ${}::uuid, ${}::bigint)",
                    b + 1,
                    b + 2,
                    b + 3
                );
            } else {
                list.push_str("(?, ?, ?)");
            }
            values.push((*account).into());
            values.push((*org).into());
            values.push((*delta).into());
        }
        let sql = format!(
            "WITH v(id, org, delta) AS (VALUES {list}) \
             UPDATE accounts SET balance_fen = accounts.balance_fen + v.delta FROM v \
             WHERE accounts.id = v.id AND accounts.organization_id = v.org"
        );
        let res = txn
            .execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        if res.rows_affected() != chunk.len() as u64 {
            return Err(StoreError::NotFound);
        }
    }
    Ok(after)
}

/// A replay answers the original entry, unless the key belongs to another organization: then
/// it is a clash the caller must not learn more about.
fn duplicate_of(existing: LedgerEntry, org: OrgId) -> Result<Posting, StoreError> {
    if existing.organization_id == org {
        Ok(Posting {
            entry: existing,
            duplicate: true,
        })
    } else {
        Err(StoreError::Duplicate)
    }
}

async fn find_by_key(
    conn: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<LedgerEntry>, StoreError> {
    Ok(ledger_entry::Entity::find()
        .filter(ledger_entry::Column::IdempotencyKey.eq(key))
        .one(conn)
        .await?)
}

/// The entry of the organization with this idempotency key, if any.
pub async fn find_entry_by_key(
    conn: &impl ConnectionTrait,
    org: OrgId,
    key: &str,
) -> Result<Option<LedgerEntry>, StoreError> {
    Ok(find_by_key(conn, key)
        .await?
        .filter(|e| e.organization_id == org))
}

/// The entries of an account, newest first.
pub async fn entries_of(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    account: AccountId,
    page: Page,
) -> Result<Paged<LedgerEntry>, StoreError> {
    let scope = scope.into();
    let select = ledger_entry::Entity::find()
        .filter(scope.condition::<ledger_entry::Entity>())
        .filter(ledger_entry::Column::AccountId.eq(account))
        .order_by_desc(ledger_entry::Column::Id);
    fetch(conn, select, page).await
}

/// The running balance of an account.
pub async fn balance_of(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    account: AccountId,
) -> Result<Money, StoreError> {
    let scope = scope.into();
    Ok(crate::account::get(conn, scope, account).await?.balance())
}

impl LedgerEntry {
    pub fn amount(&self) -> Money {
        Money::from_fen(self.amount_fen)
    }

    pub fn balance_after(&self) -> Money {
        Money::from_fen(self.balance_after_fen)
    }
}
