//! Refund requests of paid orders. Every status change of a refund happens with its row locked
//! ([`lock`] writes first, as `payment::lock_order` does), so a provider notification, a retry
//! and an operator never settle or release one refund twice.

pub mod entity;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::payment::{MerchantId, PaymentOrderId, RefundId};
use crate::{AccountId, OrgId, StoreError, UserId};

pub use entity::{Model as Refund, RefundStatus};

#[derive(Clone, Debug)]
pub struct NewRefund {
    pub id: RefundId,
    pub account_id: AccountId,
    pub order_id: PaymentOrderId,
    pub merchant_id: MerchantId,
    pub out_refund_no: String,
    pub amount_fen: i64,
    pub reason: String,
    pub status: RefundStatus,
    pub requested_by: Option<UserId>,
    pub hold_entry_key: String,
}

pub async fn create(
    conn: &impl ConnectionTrait,
    org: OrgId,
    new: NewRefund,
) -> Result<Refund, StoreError> {
    let now = Utc::now();
    entity::ActiveModel {
        id: Set(new.id),
        organization_id: Set(org),
        account_id: Set(new.account_id),
        order_id: Set(new.order_id),
        merchant_id: Set(new.merchant_id),
        out_refund_no: Set(new.out_refund_no),
        amount_fen: Set(new.amount_fen),
        reason: Set(new.reason),
        status: Set(new.status),
        requested_by: Set(new.requested_by),
        approved_by: Set(None),
        provider_refund_id: Set(None),
        hold_entry_key: Set(new.hold_entry_key),
        detail: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
    .map_err(crate::error::map_unique)
}

pub async fn get(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: RefundId,
) -> Result<Refund, StoreError> {
    entity::Entity::find_by_id(id)
        .filter(entity::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Locks a refund (by id or by `out_refund_no`) for the rest of the transaction.
pub async fn lock(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: Option<RefundId>,
    out_refund_no: Option<&str>,
) -> Result<Option<Refund>, StoreError> {
    let mut update = entity::Entity::update_many()
        .col_expr(entity::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(entity::Column::OrganizationId.eq(org));
    if let Some(id) = id {
        update = update.filter(entity::Column::Id.eq(id));
    }
    if let Some(no) = out_refund_no {
        update = update.filter(entity::Column::OutRefundNo.eq(no));
    }
    if id.is_none() && out_refund_no.is_none() {
        return Ok(None);
    }
    Ok(update.exec_with_returning(conn).await?.pop())
}

/// Sets the status (and what the provider said) of a locked refund.
pub async fn set_status(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: RefundId,
    status: RefundStatus,
    provider_refund_id: Option<&str>,
    approved_by: Option<UserId>,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    let mut update = entity::Entity::update_many()
        .col_expr(entity::Column::Status, Expr::value(status))
        .filter(entity::Column::Id.eq(id))
        .filter(entity::Column::OrganizationId.eq(org));
    if let Some(p) = provider_refund_id {
        update = update.col_expr(entity::Column::ProviderRefundId, Expr::value(p));
    }
    if let Some(a) = approved_by {
        update = update.col_expr(entity::Column::ApprovedBy, Expr::value(a));
    }
    if let Some(d) = detail {
        update = update.col_expr(entity::Column::Detail, Expr::value(d));
    }
    update.exec(conn).await?;
    Ok(())
}

/// Fen refunded or being refunded for an order (everything but failed refunds).
pub async fn committed_fen(
    conn: &impl ConnectionTrait,
    org: OrgId,
    order: PaymentOrderId,
) -> Result<i64, StoreError> {
    Ok(entity::Entity::find()
        .filter(entity::Column::OrganizationId.eq(org))
        .filter(entity::Column::OrderId.eq(order))
        .filter(entity::Column::Status.ne(RefundStatus::Failed))
        .all(conn)
        .await?
        .iter()
        .map(|r| r.amount_fen)
        .sum())
}
