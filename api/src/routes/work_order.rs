//! Work orders (工单): `/api/v1/work-orders`. The worker opens them when automation failed
//! (a command failed, a meter's register fell, a meter went offline); people list them, assign
//! one to a technician or operator, comment, and resolve it. Resolving an `anomaly` order resets
//! the meter's rating baseline in the same transaction, so charging resumes from there and the
//! gap is never charged. Technicians may do all of it; viewers only read. Every act is audited.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::Energy;
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, TransactionTrait as _};
use serde::{Deserialize, Serialize};
use store::work_order::follow_up::{self, AssignError, Baseline, Note, WorkOrderFilter};
use store::work_order::WorkOrder;
use store::{MeterId, OrgId, SiteId, UserId, WorkOrderId};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse};
use crate::startup::AppState;

/// A work order as lists show it.
#[derive(Serialize, ToSchema)]
pub struct WorkOrderView {
    pub id: Uuid,
    /// `command_failed`, `anomaly`, `meter_offline`, `gateway_offline`, `restore_overdue`, ...
    pub kind: String,
    /// `open`, `in_progress`, `resolved` or `cancelled`.
    pub status: String,
    pub title: String,
    pub detail: String,
    pub account_id: Option<Uuid>,
    pub meter_id: Option<Uuid>,
    pub gateway_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl From<WorkOrder> for WorkOrderView {
    fn from(w: WorkOrder) -> Self {
        WorkOrderView {
            id: w.id.into(),
            kind: w.kind,
            status: serde_json::to_value(w.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            title: w.title,
            detail: w.detail,
            account_id: w.account_id.map(Into::into),
            meter_id: w.meter_id.map(Into::into),
            gateway_id: w.gateway_id.map(Into::into),
            assignee_id: w.assignee_id.map(Into::into),
            created_at: w.created_at,
            updated_at: w.updated_at,
            resolved_at: w.resolved_at,
        }
    }
}

/// One entry of a work order's history.
#[derive(Serialize, ToSchema)]
pub struct NoteView {
    /// `assign`, `comment` or `resolve`.
    pub kind: String,
    pub author_id: Option<Uuid>,
    /// For `assign`: who it was assigned to.
    pub assignee_id: Option<Uuid>,
    /// The comment or resolution text.
    pub text: String,
    pub created_at: DateTime<Utc>,
}

impl From<Note> for NoteView {
    fn from(n: Note) -> Self {
        NoteView {
            kind: n.kind,
            author_id: n.author_id.map(Into::into),
            assignee_id: n.assignee_id.map(Into::into),
            text: n.body,
            created_at: n.created_at,
        }
    }
}

/// The meter an order concerns.
#[derive(Serialize, ToSchema)]
pub struct OrderMeter {
    pub id: Uuid,
    pub wire_id: String,
    pub gateway_id: Uuid,
}

/// The unit an order concerns (through its meter or account).
#[derive(Serialize, ToSchema)]
pub struct OrderUnit {
    pub id: Uuid,
    pub name: String,
    pub building_id: Uuid,
}

/// The account an order concerns.
#[derive(Serialize, ToSchema)]
pub struct OrderAccount {
    pub id: Uuid,
    pub account_no: String,
}

/// A work order with its history and what it concerns.
#[derive(Serialize, ToSchema)]
pub struct WorkOrderDetail {
    #[serde(flatten)]
    pub order: WorkOrderView,
    /// Assignments, comments and the resolution, oldest first.
    pub notes: Vec<NoteView>,
    pub meter: Option<OrderMeter>,
    pub unit: Option<OrderUnit>,
    pub account: Option<OrderAccount>,
}

impl WorkOrderDetail {
    async fn load(conn: &impl ConnectionTrait, org: OrgId, w: WorkOrder) -> Result<Self, ApiError> {
        let notes = follow_up::notes(conn, org, w.id).await?;
        let meter = match w.meter_id {
            Some(id) => Some(store::meter::get(conn, org, id).await?),
            None => None,
        };
        let account = match w.account_id {
            Some(id) => Some(store::account::get(conn, org, id).await?),
            None => None,
        };
        let unit_id = account
            .as_ref()
            .map(|a| a.unit_id)
            .or_else(|| meter.as_ref().and_then(|m| m.unit_id));
        let unit = match unit_id {
            Some(id) => Some(store::unit::get(conn, org, id).await?),
            None => None,
        };
        Ok(WorkOrderDetail {
            order: w.into(),
            notes: notes.into_iter().map(Into::into).collect(),
            meter: meter.map(|m| OrderMeter {
                id: m.id.into(),
                wire_id: m.wire_id,
                gateway_id: m.gateway_id.into(),
            }),
            unit: unit.map(|u| OrderUnit {
                id: u.id.into(),
                name: u.name,
                building_id: u.building_id.into(),
            }),
            account: account.map(|a| OrderAccount {
                id: a.id.into(),
                account_no: a.account_no,
            }),
        })
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorkOrderQuery {
    /// `open` (open or in progress) or `resolved` (resolved or cancelled).
    pub status: Option<String>,
    /// `command_failed`, `anomaly`, `meter_offline`, ...
    pub kind: Option<String>,
    /// Orders whose gateway, meter or account is in this site.
    pub site_id: Option<Uuid>,
    pub meter_id: Option<Uuid>,
    /// The assigned user's id.
    pub assignee: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// A technician or operator of the organization.
    pub user_id: Uuid,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    /// 1 to 2000 characters.
    pub text: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBaseline {
    /// The total energy register read off the meter, kWh as a decimal string (before the CT
    /// ratio); rating resumes from this value.
    pub reading_kwh: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// What was found and done, 1 to 2000 characters.
    pub resolution: String,
    /// For an anomaly: resume from this register value instead of the newest reading.
    pub new_baseline: Option<NewBaseline>,
}

/// What resolving answered.
#[derive(Serialize, ToSchema)]
pub struct ResolvedView {
    #[serde(flatten)]
    pub order: WorkOrderDetail,
    /// Set when the meter's rating was suspended: the register value (kWh) and time rating
    /// resumes from. Consumption before it is not charged.
    pub baseline_kwh: Option<String>,
    pub baseline_at: Option<DateTime<Utc>>,
}

fn not_found(e: store::StoreError) -> ApiError {
    ApiError::from_store(e, "work_order_not_found", "work order")
}

fn valid_text(field: &str, text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(ApiError::bad_request(
            "invalid_text",
            format!("{field} must be 1 to 2000 characters"),
        ));
    }
    Ok(text.to_owned())
}

/// List the organization's work orders, newest first.
#[utoipa::path(get, path = "/api/v1/work-orders", tag = "work_orders", security(("bearer" = [])),
    params(ListQuery, WorkOrderQuery),
    responses((status = 200, body = ListResponse<WorkOrderView>),
        (status = 400, description = "`invalid_page`, `invalid_status`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/work-orders")]
pub async fn list(
    ctx: OrgContext,
    state: web::Data<AppState>,
    page: web::Query<ListQuery>,
    q: web::Query<WorkOrderQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let page = page.page()?;
    let open = match q.status.as_deref() {
        None => None,
        Some("open") => Some(true),
        Some("resolved") => Some(false),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_status",
                "status is open or resolved",
            ))
        }
    };
    let filter = WorkOrderFilter {
        open,
        kind: q.kind.clone(),
        site_id: q.site_id.map(SiteId::from),
        meter_id: q.meter_id.map(MeterId::from),
        assignee: q.assignee.map(UserId::from),
    };
    let paged = follow_up::list(&state.db, ctx.scope(), &filter, page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::from_paged(paged, page, WorkOrderView::from)))
}

/// A work order with its notes and the meter, unit and account it concerns.
#[utoipa::path(get, path = "/api/v1/work-orders/{id}", tag = "work_orders", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WorkOrderDetail),
        (status = 404, description = "`work_order_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/work-orders/{id}")]
pub async fn get(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let w = follow_up::get(&state.db, ctx.scope(), WorkOrderId::from(*id))
        .await
        .map_err(not_found)?;
    Ok(HttpResponse::Ok().json(WorkOrderDetail::load(&state.db, ctx.org_id, w).await?))
}

/// Assign a work order to a technician or operator of the organization.
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/assign", tag = "work_orders", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AssignBody,
    responses((status = 200, body = WorkOrderDetail),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`work_order_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_assignee`", body = Problem, content_type = "application/problem+json")))]
#[post("/work-orders/{id}/assign")]
pub async fn assign(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<AssignBody>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::DEVICES)?;
    let id = WorkOrderId::from(*id);
    let assignee = UserId::from(body.user_id);
    let detail = state
        .db
        .transaction::<_, WorkOrderDetail, ApiError>(|txn| {
            Box::pin(async move {
                let before = follow_up::get(txn, ctx.scope(), id)
                    .await
                    .map_err(not_found)?;
                let w = follow_up::assign(txn, ctx.scope(), id, assignee, ctx.user_id, Utc::now())
                    .await
                    .map_err(|e| match e {
                        AssignError::NotAssignable => ApiError::unprocessable(
                            "invalid_assignee",
                            "the assignee must be a technician or operator of the organization",
                        ),
                        AssignError::Store(e) => not_found(e),
                    })?;
                ctx.audit(
                    txn,
                    "work_order.assign",
                    "work_order",
                    id,
                    serde_json::json!({"before": {"assignee_id": before.assignee_id},
                        "after": {"assignee_id": assignee}}),
                )
                .await?;
                WorkOrderDetail::load(txn, ctx.org_id, w).await
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// Comment on a work order.
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/comments", tag = "work_orders", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CommentBody,
    responses((status = 201, body = NoteView),
        (status = 400, description = "`invalid_text`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`work_order_not_found`", body = Problem, content_type = "application/problem+json")))]
#[post("/work-orders/{id}/comments")]
pub async fn comment(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<CommentBody>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::DEVICES)?;
    let id = WorkOrderId::from(*id);
    let text = valid_text("text", &body.text)?;
    let note = state
        .db
        .transaction::<_, Note, ApiError>(|txn| {
            Box::pin(async move {
                let note = follow_up::comment(txn, ctx.scope(), id, ctx.user_id, &text, Utc::now())
                    .await
                    .map_err(not_found)?;
                ctx.audit(
                    txn,
                    "work_order.comment",
                    "work_order",
                    id,
                    serde_json::json!({"text": text}),
                )
                .await?;
                Ok(note)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(NoteView::from(note)))
}

/// Resolve a work order; for a meter anomaly, rating resumes from the new baseline.
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/resolve", tag = "work_orders", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ResolveBody,
    responses((status = 200, body = ResolvedView),
        (status = 400, description = "`invalid_text`, `invalid_reading`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`work_order_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_resolved`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`no_baseline`: the meter has no reading, give `new_baseline`", body = Problem, content_type = "application/problem+json")))]
#[post("/work-orders/{id}/resolve")]
pub async fn resolve(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<ResolveBody>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::DEVICES)?;
    let id = WorkOrderId::from(*id);
    let body = body.into_inner();
    let resolution = valid_text("resolution", &body.resolution)?;
    let baseline = match &body.new_baseline {
        None => Baseline::Newest,
        Some(b) => Baseline::Register(parse_kwh(&b.reading_kwh)?),
    };
    let view = state
        .db
        .transaction::<_, ResolvedView, ApiError>(|txn| {
            Box::pin(async move {
                let before = follow_up::get(txn, ctx.scope(), id)
                    .await
                    .map_err(not_found)?;
                if matches!(
                    before.status,
                    store::WorkOrderStatus::Resolved | store::WorkOrderStatus::Cancelled
                ) {
                    return Err(ApiError::conflict(
                        "already_resolved",
                        "the work order is already resolved",
                    ));
                }
                let done = follow_up::resolve(
                    txn,
                    ctx.scope(),
                    id,
                    ctx.user_id,
                    &resolution,
                    baseline,
                    Utc::now(),
                )
                .await
                .map_err(|e| match e {
                    store::StoreError::Invalid(detail) => {
                        ApiError::unprocessable("no_baseline", detail)
                    }
                    other => not_found(other),
                })?;
                let baseline_kwh = done.baseline.as_ref().map(|b| b.total.kwh().to_string());
                let baseline_at = done.baseline.as_ref().map(|b| b.ts);
                ctx.audit(
                    txn,
                    "work_order.resolve",
                    "work_order",
                    id,
                    serde_json::json!({"resolution": resolution, "kind": before.kind,
                        "meter_id": before.meter_id, "baseline_kwh": baseline_kwh,
                        "baseline_at": baseline_at}),
                )
                .await?;
                Ok(ResolvedView {
                    order: WorkOrderDetail::load(txn, ctx.org_id, done.order).await?,
                    baseline_kwh,
                    baseline_at,
                })
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A register value in kWh: a non-negative decimal string with at most 3 places (Wh).
fn parse_kwh(input: &str) -> Result<Energy, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_reading",
            "new_baseline.reading_kwh must be a non-negative decimal with at most 3 places",
        )
    };
    let value: Decimal = input.trim().parse().map_err(|_| bad())?;
    if value.is_sign_negative() || value.scale() > 3 || value > Decimal::from(1_000_000_000) {
        return Err(bad());
    }
    Ok(Energy::new(value))
}
