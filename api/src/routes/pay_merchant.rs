//! Merchant accounts of the organization (`/api/v1/merchants`), org admins only. Answers never
//! contain a secret.

use actix_web::{get, post, web, HttpResponse};
use domain::Role;
use payments::merchant::{MerchantRequest, MerchantView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::pay::api_error;
use crate::startup::AppState;

/// Add a merchant account (WeChat Pay, Alipay or the sandbox).
#[utoipa::path(post, path = "/api/v1/merchants", tag = "payments", request_body = MerchantRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = MerchantView),
        (status = 400, description = "`invalid_merchant`, `invalid_key`, `sandbox_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/merchants")]
pub async fn create(
    state: web::Data<AppState>,
    ctx: OrgContext,
    body: web::Json<MerchantRequest>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(&[Role::OrgAdmin])?;
    let merchant = payments::merchant::create_merchant(
        &state.db,
        &state.pay.clients,
        ctx.org_id,
        body.into_inner(),
    )
    .await
    .map_err(api_error)?;
    store::audit::record(
        &state.db,
        Some(ctx.org_id),
        Some(ctx.user_id),
        "merchant.create",
        "merchant",
        &merchant.id.to_string(),
        serde_json::json!({"name": merchant.name, "provider": merchant.provider}),
    )
    .await?;
    Ok(HttpResponse::Created().json(MerchantView::new(&merchant, &state.pay.clients)))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct MerchantList {
    pub items: Vec<MerchantView>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

/// The organization's merchant accounts.
#[utoipa::path(get, path = "/api/v1/merchants", tag = "payments", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = MerchantList),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/api/v1/merchants")]
pub async fn list(
    state: web::Data<AppState>,
    ctx: OrgContext,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(&[Role::OrgAdmin, Role::Operator])?;
    let page = store::Page::new(
        query.page.unwrap_or(1).max(1),
        query
            .per_page
            .unwrap_or(50)
            .clamp(1, store::page::MAX_PER_PAGE),
    );
    let found = store::merchant::list(&state.db, ctx.org_id, page).await?;
    Ok(HttpResponse::Ok().json(MerchantList {
        items: found
            .items
            .iter()
            .map(|m| MerchantView::new(m, &state.pay.clients))
            .collect(),
        page: page.page,
        per_page: page.per_page,
        total: found.total,
    }))
}

/// Import a provider's daily bill for reconciliation (the CSV as the provider publishes it:
/// WeChat trade bill, or Alipay business statement in GBK) and answer what it found.
#[utoipa::path(post, path = "/api/v1/merchants/{merchant_id}/bills/{date}", tag = "payments",
    params(("merchant_id" = uuid::Uuid, Path), ("date" = String, Path, description = "YYYY-MM-DD, China time")),
    request_body(content = String, content_type = "text/csv"),
    security(("bearer" = [])),
    responses(
        (status = 200, body = payments::reconcile::ReconReport),
        (status = 400, description = "`invalid_bill`, `invalid_date`", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/merchants/{merchant_id}/bills/{date}")]
pub async fn import_bill(
    state: web::Data<AppState>,
    ctx: OrgContext,
    path: web::Path<(uuid::Uuid, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    ctx.require(&[Role::OrgAdmin, Role::Operator])?;
    let (merchant_id, date) = path.into_inner();
    let date = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request("invalid_date", "the date is YYYY-MM-DD"))?;
    let report =
        payments::reconcile::import_bill(&state.db, ctx.org_id, merchant_id.into(), date, &body)
            .await
            .map_err(api_error)?;
    store::audit::record(
        &state.db,
        Some(ctx.org_id),
        Some(ctx.user_id),
        "payment.bill_import",
        "merchant",
        &merchant_id.to_string(),
        serde_json::json!({"date": date, "report": report}),
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}
