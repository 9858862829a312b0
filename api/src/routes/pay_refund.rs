//! Refunds of top-ups (`/api/v1/refunds`): operators and org admins request them with a reason;
//! above the organization's limit an org admin approves. The amount is held from the request.

use actix_web::{post, web, HttpResponse};
use domain::Role;
use payments::refund::{Actor, RefundRequest};

use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::pay::api_error;
use crate::startup::AppState;

/// Request a refund of a paid order.
#[utoipa::path(post, path = "/api/v1/refunds", tag = "payments", request_body = RefundRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "the refund, `processing`, `succeeded`, `failed` or `pending_approval`", body = Object),
        (status = 400, description = "`order_not_paid`, `amount_exceeds_refundable`, `insufficient_balance`, `reason_required`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/refunds")]
pub async fn create(
    state: web::Data<AppState>,
    ctx: OrgContext,
    body: web::Json<RefundRequest>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(&[Role::OrgAdmin, Role::Operator])?;
    let actor = Actor {
        user: ctx.user_id,
        org_admin: ctx.role == Role::OrgAdmin,
    };
    let refund = payments::refund::request_refund(
        &state.db,
        &state.pay.clients,
        ctx.org_id,
        actor,
        body.into_inner(),
    )
    .await
    .map_err(api_error)?;
    Ok(HttpResponse::Created().json(payments::refund::view(&refund)))
}

/// Approve a refund waiting for an org admin.
#[utoipa::path(post, path = "/api/v1/refunds/{refund_id}/approve", tag = "payments",
    params(("refund_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Object),
        (status = 400, description = "`refund_not_pending`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/refunds/{refund_id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    ctx: OrgContext,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(&[Role::OrgAdmin])?;
    let refund = payments::refund::approve_refund(
        &state.db,
        &state.pay.clients,
        ctx.org_id,
        ctx.user_id,
        path.into_inner().into(),
    )
    .await
    .map_err(api_error)?;
    Ok(HttpResponse::Ok().json(payments::refund::view(&refund)))
}
