//! Payment orders, provider notifications, per-organization payment limits and the work orders
//! payments raise.
//!
//! Rules: an order's row is the lock that serialises everything about one payment
//! ([`lock_order`] writes first, so on PostgreSQL it takes the row lock and on SQLite the
//! database write lock before anything is read: concurrent notifications queue instead of
//! failing with "database is locked"). A few lookups are unscoped on purpose (provider
//! notifications and the sandbox page carry no organization); each says why.

pub mod ids;
pub mod notification;
pub mod order;
pub mod settings;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::entity::work_order;
use crate::page::{fetch, Page, Paged};
use crate::{AccountId, OrgId, StoreError, WorkOrderId, WorkOrderStatus};

pub use ids::{MerchantId, PaymentOrderId, RefundId};
pub use notification::Model as PaymentNotification;
pub use order::{Model as PaymentOrder, PaymentStatus};

/// Limits when an organization has configured none.
pub const DEFAULT_MIN_AMOUNT_FEN: i64 = 100;
pub const DEFAULT_MAX_AMOUNT_FEN: i64 = 500_000;
pub const DEFAULT_MAX_PENDING_PER_ACCOUNT: i32 = 5;
pub const DEFAULT_REFUND_APPROVAL_ABOVE_FEN: i64 = 50_000;

/// An order to create.
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub account_id: AccountId,
    pub merchant_id: MerchantId,
    pub provider: String,
    pub channel: String,
    pub out_trade_no: String,
    pub amount_fen: i64,
    pub openid: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// When the polling job first asks the provider (if no notification came).
    pub first_poll_at: DateTime<Utc>,
}

pub async fn create_order(
    conn: &impl ConnectionTrait,
    org: OrgId,
    new: NewOrder,
) -> Result<PaymentOrder, StoreError> {
    let now = Utc::now();
    order::ActiveModel {
        id: Set(PaymentOrderId::new()),
        organization_id: Set(org),
        account_id: Set(new.account_id),
        merchant_id: Set(new.merchant_id),
        provider: Set(new.provider),
        channel: Set(new.channel),
        out_trade_no: Set(new.out_trade_no),
        amount_fen: Set(new.amount_fen),
        status: Set(PaymentStatus::Pending),
        provider_txn_id: Set(None),
        openid: Set(new.openid),
        pay: Set("{}".to_owned()),
        expires_at: Set(new.expires_at),
        paid_at: Set(None),
        next_poll_at: Set(Some(new.first_poll_at)),
        poll_attempts: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
    .map_err(crate::error::map_unique)
}

/// Stores what the phone must do next (the provider's answer to order creation).
pub async fn set_pay(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: PaymentOrderId,
    pay: &serde_json::Value,
) -> Result<(), StoreError> {
    let res = order::Entity::update_many()
        .col_expr(order::Column::Pay, Expr::value(pay.to_string()))
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::OrganizationId.eq(org))
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

pub async fn get(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: PaymentOrderId,
) -> Result<PaymentOrder, StoreError> {
    order::Entity::find_by_id(id)
        .filter(order::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Unscoped on purpose: the public pay pages (sandbox page, door page status) know only the
/// order id, an unguessable UUID handed to the payer; callers show the amount and status only.
pub async fn get_public(
    conn: &impl ConnectionTrait,
    id: PaymentOrderId,
) -> Result<PaymentOrder, StoreError> {
    order::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn find_by_out_trade_no(
    conn: &impl ConnectionTrait,
    org: OrgId,
    out_trade_no: &str,
) -> Result<Option<PaymentOrder>, StoreError> {
    Ok(order::Entity::find()
        .filter(order::Column::OrganizationId.eq(org))
        .filter(order::Column::OutTradeNo.eq(out_trade_no))
        .one(conn)
        .await?)
}

/// Orders of the organization, newest first, of one account when given.
pub async fn list_orders(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: Option<AccountId>,
    page: Page,
) -> Result<Paged<PaymentOrder>, StoreError> {
    let mut select = order::Entity::find().filter(order::Column::OrganizationId.eq(org));
    if let Some(account) = account {
        select = select.filter(order::Column::AccountId.eq(account));
    }
    fetch(conn, select.order_by_desc(order::Column::Id), page).await
}

/// Pending orders of an account that have not expired yet.
pub async fn count_pending(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: AccountId,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(order::Entity::find()
        .filter(order::Column::OrganizationId.eq(org))
        .filter(order::Column::AccountId.eq(account))
        .filter(order::Column::Status.eq(PaymentStatus::Pending))
        .filter(order::Column::ExpiresAt.gt(now))
        .count(conn)
        .await?)
}

/// Locks the order for the rest of the transaction and answers it (`None`: no such order in
/// the organization). Writes first: see the module docs.
pub async fn lock_order(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: PaymentOrderId,
) -> Result<Option<PaymentOrder>, StoreError> {
    let mut rows = order::Entity::update_many()
        .col_expr(order::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::OrganizationId.eq(org))
        .exec_with_returning(conn)
        .await?;
    Ok(rows.pop())
}

/// [`lock_order`] by our `out_trade_no` (what notifications name).
pub async fn lock_order_by_out_trade_no(
    conn: &impl ConnectionTrait,
    org: OrgId,
    out_trade_no: &str,
) -> Result<Option<PaymentOrder>, StoreError> {
    let mut rows = order::Entity::update_many()
        .col_expr(order::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(order::Column::OutTradeNo.eq(out_trade_no))
        .filter(order::Column::OrganizationId.eq(org))
        .exec_with_returning(conn)
        .await?;
    Ok(rows.pop())
}

/// Marks a locked order paid by the provider transaction `txn_id`.
pub async fn mark_paid(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: PaymentOrderId,
    txn_id: &str,
    paid_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(PaymentStatus::Paid))
        .col_expr(order::Column::ProviderTxnId, Expr::value(txn_id))
        .col_expr(order::Column::PaidAt, Expr::value(paid_at))
        .col_expr(
            order::Column::NextPollAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::OrganizationId.eq(org))
        .exec(conn)
        .await?;
    Ok(())
}

/// Moves a still pending order to `closed` or `expired` and stops polling it. Answers whether
/// it changed (a paid order never changes here).
pub async fn finish_unpaid(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: PaymentOrderId,
    status: PaymentStatus,
) -> Result<bool, StoreError> {
    let res = order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(status))
        .col_expr(
            order::Column::NextPollAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(order::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::OrganizationId.eq(org))
        .filter(order::Column::Status.eq(PaymentStatus::Pending))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Unscoped on purpose: the polling job runs for every organization. Pending orders whose
/// next poll is due, oldest due first.
pub async fn due_for_poll(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<PaymentOrder>, StoreError> {
    Ok(order::Entity::find()
        .filter(order::Column::Status.eq(PaymentStatus::Pending))
        .filter(order::Column::NextPollAt.lte(now))
        .order_by_asc(order::Column::NextPollAt)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Records a poll and when to poll next.
pub async fn schedule_poll(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: PaymentOrderId,
    next: DateTime<Utc>,
) -> Result<(), StoreError> {
    order::Entity::update_many()
        .col_expr(order::Column::NextPollAt, Expr::value(next))
        .col_expr(
            order::Column::PollAttempts,
            Expr::col(order::Column::PollAttempts).add(1),
        )
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::OrganizationId.eq(org))
        .filter(order::Column::Status.eq(PaymentStatus::Pending))
        .exec(conn)
        .await?;
    Ok(())
}

/// A notification (or poll result) to keep for audit.
#[derive(Clone, Debug, Default)]
pub struct NewNotification {
    pub organization_id: Option<OrgId>,
    pub merchant_id: Option<MerchantId>,
    pub provider: String,
    pub order_id: Option<PaymentOrderId>,
    pub out_trade_no: Option<String>,
    pub provider_txn_id: Option<String>,
    pub event_type: String,
    pub raw_body: String,
    pub headers: serde_json::Value,
    pub verified: bool,
    pub outcome: String,
    pub detail: Option<String>,
}

pub async fn record_notification(
    conn: &impl ConnectionTrait,
    new: NewNotification,
) -> Result<PaymentNotification, StoreError> {
    Ok(notification::ActiveModel {
        organization_id: Set(new.organization_id),
        merchant_id: Set(new.merchant_id),
        provider: Set(new.provider),
        order_id: Set(new.order_id),
        out_trade_no: Set(new.out_trade_no),
        provider_txn_id: Set(new.provider_txn_id),
        event_type: Set(new.event_type),
        raw_body: Set(new.raw_body),
        headers: Set(new.headers.to_string()),
        verified: Set(new.verified),
        outcome: Set(new.outcome),
        detail: Set(new.detail),
        received_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// The notifications recorded for an order, oldest first.
pub async fn notifications_of(
    conn: &impl ConnectionTrait,
    org: OrgId,
    order: PaymentOrderId,
) -> Result<Vec<PaymentNotification>, StoreError> {
    Ok(notification::Entity::find()
        .filter(notification::Column::OrganizationId.eq(org))
        .filter(notification::Column::OrderId.eq(order))
        .order_by_asc(notification::Column::Id)
        .all(conn)
        .await?)
}

/// The organization's payment limits (defaults when none are configured).
pub async fn limits(
    conn: &impl ConnectionTrait,
    org: OrgId,
) -> Result<settings::Model, StoreError> {
    Ok(settings::Entity::find_by_id(org)
        .one(conn)
        .await?
        .unwrap_or(settings::Model {
            organization_id: org,
            min_amount_fen: DEFAULT_MIN_AMOUNT_FEN,
            max_amount_fen: DEFAULT_MAX_AMOUNT_FEN,
            max_pending_per_account: DEFAULT_MAX_PENDING_PER_ACCOUNT,
            refund_approval_above_fen: DEFAULT_REFUND_APPROVAL_ABOVE_FEN,
            updated_at: Utc::now(),
        }))
}

/// Sets the organization's payment limits.
pub async fn set_limits(
    conn: &impl ConnectionTrait,
    limits: settings::Model,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::OnConflict;
    settings::Entity::insert(settings::ActiveModel::from(limits))
        .on_conflict(
            OnConflict::column(settings::Column::OrganizationId)
                .update_columns([
                    settings::Column::MinAmountFen,
                    settings::Column::MaxAmountFen,
                    settings::Column::MaxPendingPerAccount,
                    settings::Column::RefundApprovalAboveFen,
                    settings::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// Opens a work order for a person (a payment that automation could not settle).
pub async fn open_work_order(
    conn: &impl ConnectionTrait,
    org: OrgId,
    kind: &str,
    title: &str,
    detail: &str,
    account: Option<AccountId>,
) -> Result<WorkOrderId, StoreError> {
    let now = Utc::now();
    let id = WorkOrderId::new();
    work_order::ActiveModel {
        id: Set(id),
        organization_id: Set(org),
        kind: Set(kind.to_owned()),
        status: Set(WorkOrderStatus::Open),
        title: Set(title.to_owned()),
        detail: Set(detail.to_owned()),
        account_id: Set(account),
        meter_id: Set(None),
        gateway_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        resolved_at: Set(None),
        assignee_id: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(id)
}

/// Open work orders of a kind (tests and the dashboard).
pub async fn work_orders_of_kind(
    conn: &impl ConnectionTrait,
    org: OrgId,
    kind: &str,
) -> Result<Vec<crate::entity::work_order::Model>, StoreError> {
    Ok(work_order::Entity::find()
        .filter(work_order::Column::OrganizationId.eq(org))
        .filter(work_order::Column::Kind.eq(kind))
        .order_by_asc(work_order::Column::CreatedAt)
        .all(conn)
        .await?)
}
