//! `GET /api/v1/audit`: the organization's audit log (who did what, before and after), newest
//! first, for organization admins.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use store::AuditEntry;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse};
use crate::startup::AppState;

#[derive(Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    /// The user who acted; `null` for the system (worker, schedules).
    pub actor_user_id: Option<Uuid>,
    /// `account.open`, `account.protect`, `meter.command`, ...
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// What changed (`before`/`after` where it applies).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        AuditView {
            id: e.id,
            actor_user_id: e.actor_user_id.map(Into::into),
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
            created_at: e.created_at,
        }
    }
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "auth", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = ListResponse<AuditView>),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/audit")]
pub async fn list(
    ctx: OrgContext,
    state: web::Data<AppState>,
    page: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::ADMIN)?;
    let page = page.page()?;
    let paged = store::audit::list(&state.db, ctx.org_id, page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::from_paged(paged, page, AuditView::from)))
}
