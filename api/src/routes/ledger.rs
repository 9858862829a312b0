//! An account's ledger: `GET /api/v1/accounts/{id}/ledger`, newest entry first.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use store::{AccountId, LedgerEntry};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse};
use crate::money::show;
use crate::startup::AppState;

/// One ledger entry.
#[derive(Serialize, ToSchema)]
pub struct LedgerEntryView {
    pub id: i64,
    /// `opening`, `topup`, `charge`, `adjustment`, `refund`, `reversal`, `closing`.
    pub kind: String,
    /// Signed yuan: credits positive, charges negative.
    pub amount: String,
    pub balance_after: String,
    /// The entry this one corrects (reversals).
    pub corrects: Option<i64>,
    pub memo: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<LedgerEntry> for LedgerEntryView {
    fn from(e: LedgerEntry) -> Self {
        LedgerEntryView {
            amount: show(e.amount()),
            balance_after: show(e.balance_after()),
            id: e.id.0,
            kind: serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            corrects: e.corrects_entry_id.map(|c| c.0),
            memo: e.memo,
            created_at: e.created_at,
        }
    }
}

/// An account's ledger, newest first.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/ledger", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path), ListQuery),
    responses((status = 200, body = ListResponse<LedgerEntryView>),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/accounts/{id}/ledger")]
pub async fn account_ledger(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    page: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ_MONEY)?;
    let page = page.page()?;
    let id = AccountId::from(*id);
    store::account::get(&state.db, ctx.scope(), id)
        .await
        .map_err(super::account::not_found)?;
    let paged = store::ledger::entries_of(&state.db, ctx.scope(), id, page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::from_paged(paged, page, LedgerEntryView::from)))
}
