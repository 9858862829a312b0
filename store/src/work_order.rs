//! Work orders the worker opens when automation failed (command failed, anomaly, offline),
//! at most one open order per problem: an order carries a dedup key while it is open (a unique
//! index) and loses it on resolution, so the next occurrence opens a new order.

pub mod follow_up;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::work_order;
use crate::{AccountId, GatewayId, MeterId, OrgId, StoreError, WorkOrderId, WorkOrderStatus};

/// A row of `work_orders`.
pub type WorkOrder = work_order::Model;

/// What the worker knows about a problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWorkOrder {
    /// `command_failed`, `anomaly`, `meter_offline`, `gateway_offline`, `restore_overdue`, ...
    pub kind: String,
    pub title: String,
    pub detail: String,
    pub account_id: Option<AccountId>,
    pub meter_id: Option<MeterId>,
    pub gateway_id: Option<GatewayId>,
    /// Identifies the problem, e.g. `meter_offline:<meter id>`.
    pub dedup_key: String,
}

fn dedup_col() -> Alias {
    Alias::new("dedup_key")
}

/// Opens the order unless one with the same dedup key is open; answers the new order's id.
pub async fn open_once(
    conn: &impl ConnectionTrait,
    org: OrgId,
    new: NewWorkOrder,
    now: DateTime<Utc>,
) -> Result<Option<WorkOrderId>, StoreError> {
    let id = WorkOrderId::new();
    let insert = Query::insert()
        .into_table(work_order::Entity)
        .columns([
            Alias::new("id"),
            Alias::new("organization_id"),
            Alias::new("kind"),
            Alias::new("status"),
            Alias::new("title"),
            Alias::new("detail"),
            Alias::new("account_id"),
            Alias::new("meter_id"),
            Alias::new("gateway_id"),
            Alias::new("created_at"),
            Alias::new("updated_at"),
            dedup_col(),
        ])
        .values([
            id.into(),
            org.into(),
            new.kind.into(),
            "open".into(),
            new.title.into(),
            new.detail.into(),
            new.account_id.into(),
            new.meter_id.into(),
            new.gateway_id.into(),
            now.into(),
            now.into(),
            new.dedup_key.into(),
        ])
        .map_err(|e| StoreError::Invalid(format!("work order: {e}")))?
        .on_conflict(OnConflict::column(dedup_col()).do_nothing().to_owned())
        .to_owned();
    let stmt = conn.get_database_backend().build(&insert);
    let res = conn.execute(stmt).await?;
    Ok((res.rows_affected() == 1).then_some(id))
}

/// Resolves the open order with this dedup key (the problem went away); answers whether one
/// was open.
pub async fn resolve_by_key(
    conn: &impl ConnectionTrait,
    org: OrgId,
    dedup_key: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let update = Query::update()
        .table(work_order::Entity)
        .value(Alias::new("status"), "resolved")
        .value(Alias::new("updated_at"), now)
        .value(Alias::new("resolved_at"), now)
        .value(dedup_col(), Option::<String>::None)
        .and_where(Expr::col(Alias::new("organization_id")).eq(org))
        .and_where(Expr::col(dedup_col()).eq(dedup_key))
        .to_owned();
    let stmt = conn.get_database_backend().build(&update);
    Ok(conn.execute(stmt).await?.rows_affected() > 0)
}

/// Whether an order with this dedup key is open.
pub async fn is_open(
    conn: &impl ConnectionTrait,
    org: OrgId,
    dedup_key: &str,
) -> Result<bool, StoreError> {
    Ok(work_order::Entity::find()
        .filter(work_order::Column::OrganizationId.eq(org))
        .filter(Expr::col(dedup_col()).eq(dedup_key))
        .one(conn)
        .await?
        .is_some())
}

/// Open orders of the organization, of one kind when given, oldest first.
pub async fn list_open(
    conn: &impl ConnectionTrait,
    org: OrgId,
    kind: Option<&str>,
) -> Result<Vec<WorkOrder>, StoreError> {
    let mut select = work_order::Entity::find()
        .filter(work_order::Column::OrganizationId.eq(org))
        .filter(
            work_order::Column::Status.is_in([WorkOrderStatus::Open, WorkOrderStatus::InProgress]),
        );
    if let Some(kind) = kind {
        select = select.filter(work_order::Column::Kind.eq(kind));
    }
    Ok(select
        .order_by_asc(work_order::Column::CreatedAt)
        .all(conn)
        .await?)
}
