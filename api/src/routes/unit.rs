//! Units (flats and shops) of a building: `/api/v1/units`.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait as _;
use serde::{Deserialize, Serialize};
use store::unit::UnitFilter;
use store::{BuildingId, SiteId, Unit, UnitId, UnitKind};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::site::valid_name;
use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse, SortQuery};
use crate::startup::AppState;

/// What a unit is rented as.
#[derive(Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Flat,
    Shop,
}

impl From<Kind> for UnitKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Flat => UnitKind::Flat,
            Kind::Shop => UnitKind::Shop,
        }
    }
}

impl From<UnitKind> for Kind {
    fn from(k: UnitKind) -> Self {
        match k {
            UnitKind::Flat => Kind::Flat,
            UnitKind::Shop => Kind::Shop,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UnitView {
    pub id: Uuid,
    pub building_id: Uuid,
    pub name: String,
    pub kind: Kind,
    pub created_at: DateTime<Utc>,
}

impl From<Unit> for UnitView {
    fn from(u: Unit) -> Self {
        UnitView {
            id: u.id.into(),
            building_id: u.building_id.into(),
            name: u.name,
            kind: u.kind.into(),
            created_at: u.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUnit {
    pub building_id: Uuid,
    pub name: String,
    pub kind: Kind,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUnit {
    pub name: Option<String>,
    pub kind: Option<Kind>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitQuery {
    pub building_id: Option<Uuid>,
    pub site_id: Option<Uuid>,
    #[param(inline)]
    pub kind: Option<Kind>,
    /// Part of the unit's name.
    pub name: Option<String>,
}

fn not_found(e: store::StoreError) -> ApiError {
    ApiError::from_store(e, "unit_not_found", "unit")
}

/// List units, filtered by building, site, kind or name.
#[utoipa::path(get, path = "/api/v1/units", tag = "property", security(("bearer" = [])),
    params(ListQuery, SortQuery, UnitQuery),
    responses((status = 200, body = ListResponse<UnitView>),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/units")]
pub async fn list(
    ctx: OrgContext,
    state: web::Data<AppState>,
    page: web::Query<ListQuery>,
    sort: web::Query<SortQuery>,
    q: web::Query<UnitQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let page = sort.apply(page.page()?, SORTS)?;
    let q = q.into_inner();
    let filter = UnitFilter {
        building_id: q.building_id.map(BuildingId::from),
        site_id: q.site_id.map(SiteId::from),
        kind: q.kind.map(UnitKind::from),
        name: q.name,
    };
    let paged = store::unit::list_filtered(&state.db, ctx.scope(), &filter, page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::from_paged(paged, page, UnitView::from)))
}

/// Create a unit in a building.
#[utoipa::path(post, path = "/api/v1/units", tag = "property", security(("bearer" = [])),
    request_body = CreateUnit,
    responses((status = 201, body = UnitView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`building_not_found`", body = Problem, content_type = "application/problem+json")))]
#[post("/units")]
pub async fn create(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<CreateUnit>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let name = valid_name("name", &body.name)?;
    let (building, kind) = (
        BuildingId::from(body.building_id),
        UnitKind::from(body.kind),
    );
    let unit = state
        .db
        .transaction::<_, Unit, ApiError>(|txn| {
            Box::pin(async move {
                let u = store::unit::create(txn, ctx.scope(), building, &name, kind)
                    .await
                    .map_err(|e| ApiError::from_store(e, "building_not_found", "building"))?;
                ctx.audit(
                    txn,
                    "unit.create",
                    "unit",
                    u.id,
                    serde_json::json!({"after": &u}),
                )
                .await?;
                Ok(u)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(UnitView::from(unit)))
}

/// One unit.
#[utoipa::path(get, path = "/api/v1/units/{id}", tag = "property", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UnitView),
        (status = 404, description = "`unit_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/units/{id}")]
pub async fn get(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let u = store::unit::get(&state.db, ctx.scope(), UnitId::from(*id))
        .await
        .map_err(not_found)?;
    Ok(HttpResponse::Ok().json(UnitView::from(u)))
}

/// Rename a unit or change its kind.
#[utoipa::path(patch, path = "/api/v1/units/{id}", tag = "property", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateUnit,
    responses((status = 200, body = UnitView),
        (status = 404, description = "`unit_not_found`", body = Problem, content_type = "application/problem+json")))]
#[patch("/units/{id}")]
pub async fn update(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateUnit>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let body = body.into_inner();
    let name = body
        .name
        .as_deref()
        .map(|n| valid_name("name", n))
        .transpose()?;
    let kind = body.kind.map(UnitKind::from);
    let id = UnitId::from(*id);
    let u = state
        .db
        .transaction::<_, Unit, ApiError>(|txn| {
            Box::pin(async move {
                let before = store::unit::get(txn, ctx.scope(), id)
                    .await
                    .map_err(not_found)?;
                let after = store::unit::update(txn, ctx.scope(), id, name, kind).await?;
                ctx.audit(
                    txn,
                    "unit.update",
                    "unit",
                    id,
                    serde_json::json!({"before": before, "after": &after}),
                )
                .await?;
                Ok(after)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(UnitView::from(u)))
}

/// Delete a unit without accounts or meters.
#[utoipa::path(delete, path = "/api/v1/units/{id}", tag = "property", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204),
        (status = 404, description = "`unit_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`in_use`", body = Problem, content_type = "application/problem+json")))]
#[delete("/units/{id}")]
pub async fn remove(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::ADMIN)?;
    let id = UnitId::from(*id);
    state
        .db
        .transaction::<_, (), ApiError>(|txn| {
            Box::pin(async move {
                let before = store::unit::get(txn, ctx.scope(), id)
                    .await
                    .map_err(not_found)?;
                store::unit::delete(txn, ctx.scope(), id).await?;
                ctx.audit(
                    txn,
                    "unit.delete",
                    "unit",
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
const SORTS: &[(&str, &str)] = &[
    ("name", "name"),
    ("kind", "kind"),
    ("created_at", "created_at"),
];
