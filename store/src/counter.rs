//! The counter desk (营业厅): cash, card and transfer payments taken at the property office,
//! their reversals (冲正) and manual adjustments, each with a receipt.
//!
//! Rules kept here:
//! - every receipt posts exactly one ledger entry, and its receipt number is the next of the
//!   organization's own sequence (1, 2, 3, ... with no gaps among committed receipts, because
//!   the counter row is locked until the transaction ends);
//! - the cashier's idempotency key makes a double click one payment: the ledger key is
//!   `counter:<org>:<key>`, so keys of two organizations never meet;
//! - the ledger posting comes first in the transaction (SQLite must write before it reads);
//! - the `account.balance_changed` outbox row and the audit record are written in the same
//!   transaction as the entry.

use chrono::{DateTime, Utc};
use domain::Money;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, Set, Statement,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ledger::{self, NewEntry};
use crate::page::{fetch, Page, Paged};
use crate::scope::Scope;
use crate::{
    account, audit, outbox, AccountId, AccountStatus, LedgerEntryId, LedgerKind, OrgId, StoreError,
    UserId,
};

/// The `counter_receipts` table.
pub mod receipt {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    use crate::ids::{AccountId, OrgId, UserId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "counter_receipts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub organization_id: OrgId,
        pub account_id: AccountId,
        /// Sequential per organization.
        pub receipt_no: i64,
        /// `payment`, `reversal` or `adjustment`.
        pub kind: String,
        /// `cash`, `card`, `transfer` for payments.
        pub method: Option<String>,
        /// Signed, as posted to the ledger.
        pub amount_fen: i64,
        pub balance_after_fen: i64,
        pub note: Option<String>,
        pub idempotency_key: String,
        pub ledger_entry_id: i64,
        pub reverses_receipt_id: Option<Uuid>,
        pub cashier_id: Option<UserId>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A counter receipt.
pub type Receipt = receipt::Model;

/// How the money was handed over at the counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Card,
    Transfer,
}

impl PaymentMethod {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "cash",
            Self::Card => "card",
            Self::Transfer => "transfer",
        }
    }
}

/// What happened to a receipt request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub receipt: Receipt,
    /// The same idempotency key was used before: nothing changed, this is the first receipt.
    pub duplicate: bool,
}

/// A receipt to write.
#[derive(Clone, Debug)]
pub struct NewReceipt {
    pub account_id: AccountId,
    pub kind: ReceiptKind,
    /// Signed amount to post.
    pub amount: Money,
    pub note: Option<String>,
    /// The cashier's key (the `Idempotency-Key` header); unique within the organization.
    pub idempotency_key: String,
    pub cashier: Option<UserId>,
}

/// The three kinds of counter receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptKind {
    Payment(PaymentMethod),
    /// Reverses the receipt with this id (and its ledger entry).
    Reversal {
        receipt: Uuid,
        entry: LedgerEntryId,
    },
    Adjustment,
}

impl ReceiptKind {
    fn name(&self) -> &'static str {
        match self {
            Self::Payment(_) => "payment",
            Self::Reversal { .. } => "reversal",
            Self::Adjustment => "adjustment",
        }
    }

    fn ledger_kind(&self) -> LedgerKind {
        match self {
            Self::Payment(_) => LedgerKind::Topup,
            Self::Reversal { .. } => LedgerKind::Reversal,
            Self::Adjustment => LedgerKind::Adjustment,
        }
    }
}

/// Posts a receipt in the caller's transaction: ledger entry, next receipt number, receipt row,
/// outbox row and audit record. A repeated idempotency key answers the first receipt with
/// `duplicate: true`; [`StoreError::Duplicate`] when that first receipt was for another account,
/// amount or kind (the key was reused for something else).
pub async fn post_receipt(
    txn: &DatabaseTransaction,
    scope: impl Into<Scope>,
    new: NewReceipt,
) -> Result<Outcome, StoreError> {
    let scope = scope.into();
    let org = scope.org;
    if !scope.is_whole_org() {
        account::get(txn, scope, new.account_id).await?;
    }
    let key = new.idempotency_key.trim().to_owned();
    if key.is_empty() || key.len() > 200 {
        return Err(StoreError::Invalid(
            "the idempotency key must be 1 to 200 characters".into(),
        ));
    }
    let posting = ledger::post_in_txn(
        txn,
        org,
        NewEntry {
            account_id: new.account_id,
            kind: new.kind.ledger_kind(),
            amount: new.amount,
            idempotency_key: ledger_key(&new.kind, org, &key),
            corrects: match new.kind {
                ReceiptKind::Reversal { entry, .. } => Some(entry),
                _ => None,
            },
            memo: new.note.clone(),
            created_by: new.cashier,
        },
    )
    .await?;
    if posting.duplicate {
        let first = match &new.kind {
            ReceiptKind::Reversal { receipt, .. } => reversal_of(txn, org, *receipt).await?,
            _ => by_key(txn, org, &key).await?,
        }
        .ok_or(StoreError::Duplicate)?;
        let amount_fen = crate::money::to_fen(new.amount)?;
        if first.account_id != new.account_id
            || first.amount_fen != amount_fen
            || first.kind != new.kind.name()
        {
            return Err(StoreError::Duplicate);
        }
        return Ok(Outcome {
            receipt: first,
            duplicate: true,
        });
    }
    let account = account::get(txn, scope, new.account_id).await?;
    if account.status == AccountStatus::Closed {
        return Err(StoreError::Invalid("the account is closed".into()));
    }
    let receipt_no = next_receipt_no(txn, org).await?;
    let row = receipt::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(org),
        account_id: Set(new.account_id),
        receipt_no: Set(receipt_no),
        kind: Set(new.kind.name().to_owned()),
        method: Set(match new.kind {
            ReceiptKind::Payment(m) => Some(m.as_str().to_owned()),
            _ => None,
        }),
        amount_fen: Set(posting.entry.amount_fen),
        balance_after_fen: Set(posting.entry.balance_after_fen),
        note: Set(new.note),
        idempotency_key: Set(key),
        ledger_entry_id: Set(posting.entry.id.0),
        reverses_receipt_id: Set(match new.kind {
            ReceiptKind::Reversal { receipt, .. } => Some(receipt),
            _ => None,
        }),
        cashier_id: Set(new.cashier),
        created_at: Set(Utc::now()),
    }
    .insert(txn)
    .await?;
    outbox::enqueue(
        txn,
        Some(org),
        outbox::kind::BALANCE_CHANGED,
        serde_json::json!({ "account_id": new.account_id }),
    )
    .await?;
    audit::record(
        txn,
        Some(org),
        new.cashier,
        &format!("counter.{}", row.kind),
        "account",
        &new.account_id.to_string(),
        serde_json::json!({
            "receipt_no": row.receipt_no,
            "amount_fen": row.amount_fen,
            "method": row.method,
            "reverses": row.reverses_receipt_id,
            "before": {"balance_fen": row.balance_after_fen - row.amount_fen},
            "after": {"balance_fen": row.balance_after_fen},
        }),
    )
    .await?;
    Ok(Outcome {
        receipt: row,
        duplicate: false,
    })
}

/// A reversal's ledger key depends on the receipt it reverses, not on the cashier's key: a
/// receipt can be reversed once, whoever clicks.
fn ledger_key(kind: &ReceiptKind, org: OrgId, key: &str) -> String {
    match kind {
        ReceiptKind::Reversal { receipt, .. } => format!("counter-reversal:{receipt}"),
        _ => format!("counter:{org}:{key}"),
    }
}

/// Draws the organization's next receipt number. The upsert locks the counter row until the
/// transaction ends, so numbers are handed out in commit order without gaps.
async fn next_receipt_no(txn: &DatabaseTransaction, org: OrgId) -> Result<i64, StoreError> {
    let backend = txn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "INSERT INTO receipt_counters (organization_id, last_no) VALUES ($1, 1) \
             ON CONFLICT (organization_id) DO UPDATE SET last_no = receipt_counters.last_no + 1 \
             RETURNING last_no"
        }
        _ => {
            "INSERT INTO receipt_counters (organization_id, last_no) VALUES (?, 1) \
             ON CONFLICT (organization_id) DO UPDATE SET last_no = receipt_counters.last_no + 1 \
             RETURNING last_no"
        }
    };
    let row = txn
        .query_one(Statement::from_sql_and_values(
            backend,
            sql,
            [org.as_uuid().into()],
        ))
        .await?
        .ok_or_else(|| StoreError::Invalid("receipt counter returned nothing".into()))?;
    Ok(row.try_get::<i64>("", "last_no")?)
}

/// The receipt of the organization with this id.
pub async fn get(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: Uuid,
) -> Result<Receipt, StoreError> {
    let scope = scope.into();
    receipt::Entity::find_by_id(id)
        .filter(scope.condition::<receipt::Entity>())
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

async fn by_key(
    conn: &impl ConnectionTrait,
    org: OrgId,
    key: &str,
) -> Result<Option<Receipt>, StoreError> {
    Ok(receipt::Entity::find()
        .filter(receipt::Column::OrganizationId.eq(org))
        .filter(receipt::Column::IdempotencyKey.eq(key))
        .one(conn)
        .await?)
}

/// The reversal of a receipt, if it was reversed.
pub async fn reversal_of(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    receipt_id: Uuid,
) -> Result<Option<Receipt>, StoreError> {
    let scope = scope.into();
    Ok(receipt::Entity::find()
        .filter(scope.condition::<receipt::Entity>())
        .filter(receipt::Column::ReversesReceiptId.eq(receipt_id))
        .one(conn)
        .await?)
}

/// Receipts of the organization, newest first; of one account when given.
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    account: Option<AccountId>,
    page: Page,
) -> Result<Paged<Receipt>, StoreError> {
    let scope = scope.into();
    let mut select = receipt::Entity::find().filter(scope.condition::<receipt::Entity>());
    if let Some(account) = account {
        select = select.filter(receipt::Column::AccountId.eq(account));
    }
    fetch(conn, select.order_by_desc(receipt::Column::ReceiptNo), page).await
}

/// Every receipt of the organization created in `[from, to)`, in number order (day-end report).
pub async fn between(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Receipt>, StoreError> {
    let scope = scope.into();
    Ok(receipt::Entity::find()
        .filter(scope.condition::<receipt::Entity>())
        .filter(receipt::Column::CreatedAt.gte(from))
        .filter(receipt::Column::CreatedAt.lt(to))
        .order_by_asc(receipt::Column::ReceiptNo)
        .all(conn)
        .await?)
}

impl receipt::Model {
    pub fn amount(&self) -> Money {
        Money::from_fen(self.amount_fen)
    }

    pub fn balance_after(&self) -> Money {
        Money::from_fen(self.balance_after_fen)
    }
}
