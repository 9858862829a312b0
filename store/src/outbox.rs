//! The transactional outbox: what the worker must act on (notifications, charge-control
//! re-evaluation after a top-up, ...) is written in the same transaction as the change that
//! caused it, then claimed and processed by workers.
//!
//! Claims lease rows: a claimed row is invisible to other claimers until `locked_until`; a
//! worker that dies simply lets its lease run out. Two concurrent claimers never get the same
//! row: PostgreSQL selects with `FOR UPDATE SKIP LOCKED` in the claiming transaction; SQLite
//! serialises writers, so its single `UPDATE ... WHERE id IN (SELECT ...) RETURNING` is atomic.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::entity::outbox;
use crate::{OrgId, StoreError};

/// A claimed outbox message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub organization_id: Option<OrgId>,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Including this claim.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

impl TryFrom<outbox::Model> for OutboxMessage {
    type Error = StoreError;

    fn try_from(m: outbox::Model) -> Result<Self, StoreError> {
        let payload = serde_json::from_str(&m.payload)
            .map_err(|e| StoreError::Invalid(format!("outbox {} payload: {e}", m.id)))?;
        Ok(OutboxMessage {
            id: m.id,
            organization_id: m.organization_id,
            kind: m.kind,
            payload,
            attempts: m.attempts,
            created_at: m.created_at,
            locked_until: m.locked_until,
        })
    }
}

/// Adds a message; call it with the transaction of the change that causes it. `org` is `None`
/// for platform-wide messages.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    org: Option<OrgId>,
    kind: &str,
    payload: serde_json::Value,
) -> Result<i64, StoreError> {
    let now = Utc::now();
    let row = outbox::ActiveModel {
        organization_id: Set(org),
        kind: Set(kind.to_owned()),
        payload: Set(payload.to_string()),
        created_at: Set(now),
        available_at: Set(now),
        attempts: Set(0),
        locked_until: Set(None),
        locked_by: Set(None),
        processed_at: Set(None),
        last_error: Set(None),
        ..Default::default()
    };
    Ok(row.insert(conn).await?.id)
}

/// Claims up to `limit` available messages for `lease`, oldest first.
pub async fn claim(
    db: &DatabaseConnection,
    worker_id: &str,
    limit: u64,
    lease: Duration,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let now = Utc::now();
    let lease = chrono::Duration::from_std(lease)
        .map_err(|e| StoreError::Invalid(format!("lease: {e}")))?;
    let until = now + lease;
    let mut candidates = Query::select();
    candidates
        .column(outbox::Column::Id)
        .from(outbox::Entity)
        .and_where(outbox::Column::ProcessedAt.is_null())
        .and_where(outbox::Column::AvailableAt.lte(now))
        .cond_where(
            Condition::any()
                .add(outbox::Column::LockedUntil.is_null())
                .add(outbox::Column::LockedUntil.lt(now)),
        )
        .order_by(outbox::Column::Id, sea_orm::Order::Asc)
        .limit(limit)
        // Ignored by SQLite, which has no row locks and needs none (one writer at a time).
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    let txn = db.begin().await?;
    let claimed = outbox::Entity::update_many()
        .col_expr(outbox::Column::LockedUntil, Expr::value(until))
        .col_expr(outbox::Column::LockedBy, Expr::value(worker_id))
        .col_expr(
            outbox::Column::Attempts,
            Expr::col(outbox::Column::Attempts).add(1),
        )
        .filter(outbox::Column::Id.in_subquery(candidates))
        .exec_with_returning(&txn)
        .await?;
    txn.commit().await?;
    let mut messages = claimed
        .into_iter()
        .map(OutboxMessage::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    messages.sort_by_key(|m| m.id);
    Ok(messages)
}

/// Marks a message processed.
pub async fn complete(db: &impl ConnectionTrait, id: i64) -> Result<(), StoreError> {
    let res = outbox::Entity::update_many()
        .col_expr(outbox::Column::ProcessedAt, Expr::value(Utc::now()))
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    if res.rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// Records a failed attempt and makes the message available again at `retry_at`.
pub async fn fail(
    db: &impl ConnectionTrait,
    id: i64,
    error: &str,
    retry_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let res = outbox::Entity::update_many()
        .col_expr(outbox::Column::LastError, Expr::value(error))
        .col_expr(outbox::Column::AvailableAt, Expr::value(retry_at))
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::LockedBy,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::ProcessedAt.is_null())
        .exec(db)
        .await?;
    if res.rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// The outbox kinds: a contract between the writers (api, payments) and the worker.
pub mod kind {
    /// A balance changed outside the worker (top-up, counter payment, reversal, adjustment):
    /// `{"account_id"}`. The worker refreshes the live snapshot and runs charge control.
    pub const BALANCE_CHANGED: &str = "account.balance_changed";
    /// Charge-control inputs of an account changed (protection, thresholds, forced close/trip
    /// by an operator): `{"account_id", "action"?, "until"?}`.
    pub const ACCOUNT_CONTROL_CHANGED: &str = "account.control_changed";
    /// An operator queued a meter command (already in `commands` with its seq):
    /// `{"command_id"}`. The worker publishes it.
    pub const COMMAND_QUEUED: &str = "meter.command_queued";
    /// The meters of a gateway changed: `{"gateway_id"}`. The worker publishes a new
    /// `GatewayConfig`, retained.
    pub const GATEWAY_CONFIG_CHANGED: &str = "gateway.config_changed";
    /// A message for a tenant or manager: `{"channel", "to", "template", "params"}`.
    pub const NOTIFY: &str = "notify";
    /// A reading was entered by hand: `{"meter_id"}`. The worker rates the meter's pending
    /// readings as it does after ingesting a batch.
    pub const READINGS_ENTERED: &str = "meter.readings_entered";
}
