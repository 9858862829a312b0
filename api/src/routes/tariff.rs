//! Tariffs and their versions: `/api/v1/tariffs`, `/api/v1/tariffs/{id}/versions`.
//!
//! A version's body is the `domain::TariffVersion` JSON (every decimal a string); it is
//! validated by the domain rules, together with the tariff's existing versions, before it is
//! stored, so the worker never meets a tariff it cannot rate with.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait as _;
use serde::{Deserialize, Serialize};
use store::{Tariff, TariffId, TariffVersion};
use utoipa::ToSchema;
use uuid::Uuid;

use super::site::valid_name;
use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse, SortQuery};
use crate::service::tariff as service;
use crate::startup::AppState;

#[derive(Serialize, ToSchema)]
pub struct TariffView {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<Tariff> for TariffView {
    fn from(t: Tariff) -> Self {
        TariffView {
            id: t.id.into(),
            name: t.name,
            created_at: t.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TariffVersionView {
    pub id: Uuid,
    pub tariff_id: Uuid,
    pub effective_from: DateTime<Utc>,
    /// The `domain::TariffVersion` definition (`pricing`, `service_charges`).
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<TariffVersion> for TariffVersionView {
    type Error = ApiError;

    fn try_from(v: TariffVersion) -> Result<Self, ApiError> {
        Ok(TariffVersionView {
            definition: v.definition_json()?,
            id: v.id.into(),
            tariff_id: v.tariff_id.into(),
            effective_from: v.effective_from,
            created_at: v.created_at,
        })
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TariffName {
    pub name: String,
}

fn not_found(e: store::StoreError) -> ApiError {
    ApiError::from_store(e, "tariff_not_found", "tariff")
}

/// List tariffs.
#[utoipa::path(get, path = "/api/v1/tariffs", tag = "tariffs", security(("bearer" = [])),
    params(ListQuery, SortQuery),
    responses((status = 200, body = ListResponse<TariffView>),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/tariffs")]
pub async fn list(
    ctx: OrgContext,
    state: web::Data<AppState>,
    page: web::Query<ListQuery>,
    sort: web::Query<SortQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let page = sort.apply(page.page()?, SORTS)?;
    let paged = store::tariff::list(&state.db, ctx.org_id, page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::from_paged(paged, page, TariffView::from)))
}

/// Create a tariff (add versions to price it).
#[utoipa::path(post, path = "/api/v1/tariffs", tag = "tariffs", security(("bearer" = [])),
    request_body = TariffName,
    responses((status = 201, body = TariffView),
        (status = 400, body = Problem, content_type = "application/problem+json")))]
#[post("/tariffs")]
pub async fn create(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<TariffName>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let name = valid_name("name", &body.name)?;
    let t = service::create(&state.db, &ctx, name).await?;
    Ok(HttpResponse::Created().json(TariffView::from(t)))
}

/// One tariff.
#[utoipa::path(get, path = "/api/v1/tariffs/{id}", tag = "tariffs", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TariffView),
        (status = 404, description = "`tariff_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/tariffs/{id}")]
pub async fn get(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let t = store::tariff::get(&state.db, ctx.org_id, TariffId::from(*id))
        .await
        .map_err(not_found)?;
    Ok(HttpResponse::Ok().json(TariffView::from(t)))
}

/// Rename a tariff.
#[utoipa::path(patch, path = "/api/v1/tariffs/{id}", tag = "tariffs", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = TariffName,
    responses((status = 200, body = TariffView),
        (status = 404, description = "`tariff_not_found`", body = Problem, content_type = "application/problem+json")))]
#[patch("/tariffs/{id}")]
pub async fn update(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<TariffName>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let name = valid_name("name", &body.name)?;
    let id = TariffId::from(*id);
    let t = state
        .db
        .transaction::<_, Tariff, ApiError>(|txn| {
            Box::pin(async move {
                let before = store::tariff::get(txn, ctx.org_id, id)
                    .await
                    .map_err(not_found)?;
                let after = store::tariff::rename(txn, ctx.org_id, id, &name).await?;
                ctx.audit(
                    txn,
                    "tariff.update",
                    "tariff",
                    id,
                    serde_json::json!({"before": before, "after": &after}),
                )
                .await?;
                Ok(after)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(TariffView::from(t)))
}

/// The versions of a tariff, oldest first.
#[utoipa::path(get, path = "/api/v1/tariffs/{id}/versions", tag = "tariffs", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [TariffVersionView]),
        (status = 404, description = "`tariff_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/tariffs/{id}/versions")]
pub async fn versions(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let id = TariffId::from(*id);
    store::tariff::get(&state.db, ctx.org_id, id)
        .await
        .map_err(not_found)?;
    let versions = store::tariff::versions(&state.db, ctx.org_id, id)
        .await?
        .into_iter()
        .map(TariffVersionView::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(versions))
}

/// Add a version, in force from its `effective_from`. The body is a `domain::TariffVersion`:
/// `{"effective_from", "pricing": {"kind": "flat"|"time_of_use"|"tiered", ...},
/// "service_charges": [...]}`.
#[utoipa::path(post, path = "/api/v1/tariffs/{id}/versions", tag = "tariffs", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body(content = Object, description = "a domain::TariffVersion"),
    responses((status = 201, body = TariffVersionView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`tariff_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_exists`: a version starts at that time", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_tariff`", body = Problem, content_type = "application/problem+json")))]
#[post("/tariffs/{id}/versions")]
pub async fn add_version(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let version: domain::TariffVersion = serde_json::from_value(body.into_inner())
        .map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
    let v = service::add_version(&state.db, &ctx, TariffId::from(*id), version).await?;
    Ok(HttpResponse::Created().json(TariffVersionView::try_from(v)?))
}

/// The fields `?sort=` accepts on the list (name in the API, column).
const SORTS: &[(&str, &str)] = &[("name", "name"), ("created_at", "created_at")];
