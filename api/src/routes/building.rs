//! Buildings of a site: `/api/v1/buildings`.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait as _;
use serde::{Deserialize, Serialize};
use store::{Building, BuildingId, SiteId};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::site::valid_name;
use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse, SortQuery};
use crate::startup::AppState;

#[derive(Serialize, ToSchema)]
pub struct BuildingView {
    pub id: Uuid,
    pub site_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<Building> for BuildingView {
    fn from(b: Building) -> Self {
        BuildingView {
            id: b.id.into(),
            site_id: b.site_id.into(),
            name: b.name,
            created_at: b.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBuilding {
    pub site_id: Uuid,
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBuilding {
    pub name: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BuildingQuery {
    pub site_id: Option<Uuid>,
}

fn not_found(e: store::StoreError) -> ApiError {
    ApiError::from_store(e, "building_not_found", "building")
}

/// List buildings, of one site with `site_id`.
#[utoipa::path(get, path = "/api/v1/buildings", tag = "property", security(("bearer" = [])),
    params(ListQuery, SortQuery, BuildingQuery),
    responses((status = 200, body = ListResponse<BuildingView>),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/buildings")]
pub async fn list(
    ctx: OrgContext,
    state: web::Data<AppState>,
    page: web::Query<ListQuery>,
    sort: web::Query<SortQuery>,
    q: web::Query<BuildingQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let page = sort.apply(page.page()?, SORTS)?;
    let paged =
        store::building::list(&state.db, ctx.scope(), q.site_id.map(SiteId::from), page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::from_paged(paged, page, BuildingView::from)))
}

/// Create a building in a site.
#[utoipa::path(post, path = "/api/v1/buildings", tag = "property", security(("bearer" = [])),
    request_body = CreateBuilding,
    responses((status = 201, body = BuildingView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`site_not_found`", body = Problem, content_type = "application/problem+json")))]
#[post("/buildings")]
pub async fn create(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<CreateBuilding>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let name = valid_name("name", &body.name)?;
    let site_id = SiteId::from(body.site_id);
    let building = state
        .db
        .transaction::<_, Building, ApiError>(|txn| {
            Box::pin(async move {
                let b = store::building::create(txn, ctx.scope(), site_id, &name)
                    .await
                    .map_err(|e| ApiError::from_store(e, "site_not_found", "site"))?;
                ctx.audit(
                    txn,
                    "building.create",
                    "building",
                    b.id,
                    serde_json::json!({"after": &b}),
                )
                .await?;
                Ok(b)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(BuildingView::from(building)))
}

/// One building.
#[utoipa::path(get, path = "/api/v1/buildings/{id}", tag = "property", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = BuildingView),
        (status = 404, description = "`building_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/buildings/{id}")]
pub async fn get(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let b = store::building::get(&state.db, ctx.scope(), BuildingId::from(*id))
        .await
        .map_err(not_found)?;
    Ok(HttpResponse::Ok().json(BuildingView::from(b)))
}

/// Rename a building.
#[utoipa::path(patch, path = "/api/v1/buildings/{id}", tag = "property", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateBuilding,
    responses((status = 200, body = BuildingView),
        (status = 404, description = "`building_not_found`", body = Problem, content_type = "application/problem+json")))]
#[patch("/buildings/{id}")]
pub async fn update(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateBuilding>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let name = valid_name("name", &body.name)?;
    let id = BuildingId::from(*id);
    let b = state
        .db
        .transaction::<_, Building, ApiError>(|txn| {
            Box::pin(async move {
                let before = store::building::get(txn, ctx.scope(), id)
                    .await
                    .map_err(not_found)?;
                let after = store::building::rename(txn, ctx.scope(), id, &name).await?;
                ctx.audit(
                    txn,
                    "building.update",
                    "building",
                    id,
                    serde_json::json!({"before": before, "after": &after}),
                )
                .await?;
                Ok(after)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(BuildingView::from(b)))
}

/// Delete a building without units.
#[utoipa::path(delete, path = "/api/v1/buildings/{id}", tag = "property", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204),
        (status = 404, description = "`building_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`in_use`", body = Problem, content_type = "application/problem+json")))]
#[delete("/buildings/{id}")]
pub async fn remove(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::ADMIN)?;
    let id = BuildingId::from(*id);
    state
        .db
        .transaction::<_, (), ApiError>(|txn| {
            Box::pin(async move {
                let before = store::building::get(txn, ctx.scope(), id)
                    .await
                    .map_err(not_found)?;
                store::building::delete(txn, ctx.scope(), id).await?;
                ctx.audit(
                    txn,
                    "building.delete",
                    "building",
                    id,
                    serde_json::json!({"before": before}),
                )
                .await
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The fields `?sort=` accepts on the list (name in the API, column).
const SORTS: &[(&str, &str)] = &[("name", "name"), ("created_at", "created_at")];
