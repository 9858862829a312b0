//! What people do with the work orders the worker opened: list and filter them, assign one to a
//! technician or operator, comment, and resolve — for an anomaly, resolving also resets the
//! meter's rating baseline, in the same transaction, so charging resumes from there and the gap
//! is never charged. Every act is a note on the order (its history).

use chrono::{DateTime, Utc};
use domain::{Energy, MeterReading, Role};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Set,
};

use super::WorkOrder;
use crate::entity::{
    account, building, gateway, membership, meter, reading, unit, work_order, work_order_note,
};
use crate::page::{fetch, Page, Paged};
use crate::scope::Scope;
use crate::{MeterId, OrgId, SiteId, StoreError, UserId, WorkOrderId, WorkOrderStatus};

/// A note on a work order.
pub type Note = work_order_note::Model;

/// List filters; `None` does not filter.
#[derive(Clone, Debug, Default)]
pub struct WorkOrderFilter {
    /// `true`: open or in progress; `false`: resolved or cancelled.
    pub open: Option<bool>,
    pub kind: Option<String>,
    pub site_id: Option<SiteId>,
    pub meter_id: Option<MeterId>,
    pub assignee: Option<UserId>,
}

/// The organization's work orders matching `filter`, newest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    filter: &WorkOrderFilter,
    page: Page,
) -> Result<Paged<WorkOrder>, StoreError> {
    let scope = scope.into();
    let org = scope.org;
    let mut select = work_order::Entity::find().filter(scope.condition::<work_order::Entity>());
    match filter.open {
        Some(true) => {
            select = select.filter(
                work_order::Column::Status
                    .is_in([WorkOrderStatus::Open, WorkOrderStatus::InProgress]),
            );
        }
        Some(false) => {
            select = select.filter(
                work_order::Column::Status
                    .is_in([WorkOrderStatus::Resolved, WorkOrderStatus::Cancelled]),
            );
        }
        None => {}
    }
    if let Some(kind) = &filter.kind {
        select = select.filter(work_order::Column::Kind.eq(kind.as_str()));
    }
    if let Some(m) = filter.meter_id {
        select = select.filter(work_order::Column::MeterId.eq(m));
    }
    if let Some(u) = filter.assignee {
        select = select.filter(work_order::Column::AssigneeId.eq(u));
    }
    if let Some(site) = filter.site_id {
        // An order concerns a site through its gateway, its meter's gateway or its account's unit.
        let gateways = gateway::Entity::find()
            .select_only()
            .column(gateway::Column::Id)
            .filter(gateway::Column::OrganizationId.eq(org))
            .filter(gateway::Column::SiteId.eq(site))
            .into_query();
        let meters = meter::Entity::find()
            .select_only()
            .column(meter::Column::Id)
            .filter(meter::Column::OrganizationId.eq(org))
            .filter(meter::Column::GatewayId.in_subquery(gateways.clone()))
            .into_query();
        let buildings = building::Entity::find()
            .select_only()
            .column(building::Column::Id)
            .filter(building::Column::OrganizationId.eq(org))
            .filter(building::Column::SiteId.eq(site))
            .into_query();
        let units = unit::Entity::find()
            .select_only()
            .column(unit::Column::Id)
            .filter(unit::Column::OrganizationId.eq(org))
            .filter(unit::Column::BuildingId.in_subquery(buildings))
            .into_query();
        let accounts = account::Entity::find()
            .select_only()
            .column(account::Column::Id)
            .filter(account::Column::OrganizationId.eq(org))
            .filter(account::Column::UnitId.in_subquery(units))
            .into_query();
        select = select.filter(
            Condition::any()
                .add(work_order::Column::GatewayId.in_subquery(gateways))
                .add(work_order::Column::MeterId.in_subquery(meters))
                .add(work_order::Column::AccountId.in_subquery(accounts)),
        );
    }
    fetch(
        conn,
        select
            .order_by_desc(work_order::Column::CreatedAt)
            .order_by_desc(work_order::Column::Id),
        page,
    )
    .await
}

/// One work order in `scope` (another org's or site's is `NotFound`).
pub async fn get(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: WorkOrderId,
) -> Result<WorkOrder, StoreError> {
    work_order::Entity::find_by_id(id)
        .filter(scope.into().condition::<work_order::Entity>())
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// The order's notes, oldest first.
pub async fn notes(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: WorkOrderId,
) -> Result<Vec<Note>, StoreError> {
    Ok(work_order_note::Entity::find()
        .filter(work_order_note::Column::OrganizationId.eq(org))
        .filter(work_order_note::Column::WorkOrderId.eq(id))
        .order_by_asc(work_order_note::Column::Id)
        .all(conn)
        .await?)
}

/// What a note records.
enum NoteKind<'a> {
    Assign(UserId),
    Comment(&'a str),
    Resolve(&'a str),
}

async fn add_note(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: WorkOrderId,
    author: UserId,
    note: NoteKind<'_>,
    now: DateTime<Utc>,
) -> Result<Note, StoreError> {
    let (kind, assignee, body) = match note {
        NoteKind::Assign(user) => ("assign", Some(user), ""),
        NoteKind::Comment(text) => ("comment", None, text),
        NoteKind::Resolve(text) => ("resolve", None, text),
    };
    Ok(work_order_note::ActiveModel {
        organization_id: Set(org),
        work_order_id: Set(id),
        kind: Set(kind.to_owned()),
        author_id: Set(Some(author)),
        assignee_id: Set(assignee),
        body: Set(body.to_owned()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// Why an assignment was refused.
#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    /// The user is not a technician or operator of the organization.
    #[error("the assignee must be a technician or operator of the organization")]
    NotAssignable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Assigns the order to a technician or operator of the same organization; an open order moves
/// to `in_progress`. Answers the updated order.
pub async fn assign(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: WorkOrderId,
    assignee: UserId,
    author: UserId,
    now: DateTime<Utc>,
) -> Result<WorkOrder, AssignError> {
    let scope = scope.into();
    let org = scope.org;
    let order = get(conn, scope, id).await?;
    let role = membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(org))
        .filter(membership::Column::UserId.eq(assignee))
        .one(conn)
        .await
        .map_err(StoreError::from)?
        .and_then(|m| m.role.parse::<Role>().ok());
    if !matches!(role, Some(Role::Technician | Role::Operator)) {
        return Err(AssignError::NotAssignable);
    }
    let mut row: work_order::ActiveModel = order.clone().into();
    row.assignee_id = Set(Some(assignee));
    if order.status == WorkOrderStatus::Open {
        row.status = Set(WorkOrderStatus::InProgress);
    }
    row.updated_at = Set(now);
    let order = row.update(conn).await.map_err(StoreError::from)?;
    add_note(conn, org, id, author, NoteKind::Assign(assignee), now).await?;
    Ok(order)
}

/// Adds a comment to the order.
pub async fn comment(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: WorkOrderId,
    author: UserId,
    text: &str,
    now: DateTime<Utc>,
) -> Result<Note, StoreError> {
    let scope = scope.into();
    let org = scope.org;
    get(conn, scope, id).await?;
    work_order::Entity::update_many()
        .col_expr(work_order::Column::UpdatedAt, Expr::value(now))
        .filter(work_order::Column::Id.eq(id))
        .filter(work_order::Column::OrganizationId.eq(org))
        .exec(conn)
        .await?;
    add_note(conn, org, id, author, NoteKind::Comment(text), now).await
}

/// Where rating resumes after an anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// The meter's newest stored reading.
    Newest,
    /// A register value the technician read off the meter (before the CT ratio), taken at the
    /// newest reading's time (or `now` when there is none).
    Register(Energy),
}

/// What resolving did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub order: WorkOrder,
    /// The baseline rating resumes from, when the order's meter was suspended.
    pub baseline: Option<MeterReading>,
}

/// Resolves the order (already resolved: `Invalid`). For an order about a meter whose rating is
/// suspended by an anomaly, rating resumes from `baseline`: the money charged so far and the tier
/// cycle are kept, the consumption in the gap is not charged. Run it in a transaction.
pub async fn resolve(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: WorkOrderId,
    author: UserId,
    resolution: &str,
    baseline: Baseline,
    now: DateTime<Utc>,
) -> Result<Resolved, StoreError> {
    let scope = scope.into();
    let org = scope.org;
    let order = get(conn, scope, id).await?;
    if matches!(
        order.status,
        WorkOrderStatus::Resolved | WorkOrderStatus::Cancelled
    ) {
        return Err(StoreError::Invalid(
            "the work order is already resolved".into(),
        ));
    }
    let mut reset = None;
    if let (Some(meter), true) = (order.meter_id, order.kind == "anomaly") {
        reset = reset_meter(conn, org, meter, baseline, now).await?;
    }
    let update = Query::update()
        .table(work_order::Entity)
        .value(Alias::new("status"), "resolved")
        .value(Alias::new("updated_at"), now)
        .value(Alias::new("resolved_at"), now)
        .value(Alias::new("dedup_key"), Option::<String>::None)
        .and_where(Expr::col(Alias::new("organization_id")).eq(org))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .to_owned();
    conn.execute(conn.get_database_backend().build(&update))
        .await?;
    add_note(conn, org, id, author, NoteKind::Resolve(resolution), now).await?;
    Ok(Resolved {
        order: get(conn, org, id).await?,
        baseline: reset,
    })
}

/// Resets a suspended meter's rating state; `None` when it was not suspended.
async fn reset_meter(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter: MeterId,
    baseline: Baseline,
    now: DateTime<Utc>,
) -> Result<Option<MeterReading>, StoreError> {
    let Some(state) = crate::rating_state::lock(conn, org, meter).await? else {
        return Ok(None);
    };
    if state.anomaly.is_none() {
        return Ok(None);
    }
    let newest = reading::Entity::find()
        .filter(reading::Column::OrganizationId.eq(org))
        .filter(reading::Column::MeterId.eq(meter))
        .filter(reading::Column::EnergyWh.is_not_null())
        .order_by_desc(reading::Column::Ts)
        .one(conn)
        .await?
        .and_then(|r| r.energy_wh.map(|wh| (r.ts, wh)));
    let from = match (baseline, newest) {
        (Baseline::Newest, Some((ts, wh))) => MeterReading {
            ts,
            total: Energy::from_wh(wh),
            tou: None,
        },
        (Baseline::Newest, None) => {
            return Err(StoreError::Invalid(
                "the meter has no reading to resume from: give new_baseline".into(),
            ))
        }
        (Baseline::Register(total), newest) => MeterReading {
            ts: newest.map_or(now, |(ts, _)| ts.max(state.last_ts)),
            total,
            tou: None,
        },
    };
    let next = state.reset_baseline(&from);
    crate::rating_state::save(conn, org, meter, &next).await?;
    Ok(Some(from))
}
