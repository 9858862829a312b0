//! Gateways (DTU + agent at a building): `/api/v1/gateways`.
//!
//! Creating a gateway (or `POST .../password`) answers its MQTT password once; only the
//! Mosquitto-format hash is stored ([`crate::mqtt_password`]).

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait as _;
use serde::{Deserialize, Serialize};
use store::{Gateway, GatewayId, SiteId};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::site::valid_name;
use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse, SortQuery};
use crate::mqtt_password;
use crate::service::devices;
use crate::startup::AppState;

#[derive(Serialize, ToSchema)]
pub struct GatewayView {
    pub id: Uuid,
    pub site_id: Uuid,
    /// The wire id `gw-...`, also the MQTT username.
    pub gateway_id: String,
    pub name: String,
    pub online: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub config_version: i64,
    pub created_at: DateTime<Utc>,
}

impl From<Gateway> for GatewayView {
    fn from(g: Gateway) -> Self {
        GatewayView {
            id: g.id.into(),
            site_id: g.site_id.into(),
            gateway_id: g.gateway_id,
            name: g.name,
            online: g.online,
            last_seen_at: g.last_seen_at,
            config_version: g.config_version,
            created_at: g.created_at,
        }
    }
}

/// A gateway with its MQTT credentials, answered once.
#[derive(Serialize, ToSchema)]
pub struct GatewayWithPassword {
    #[serde(flatten)]
    pub gateway: GatewayView,
    /// MQTT username (the wire id).
    pub mqtt_username: String,
    /// Shown only now; store it in the agent's `password_file`.
    pub mqtt_password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGateway {
    pub site_id: Uuid,
    /// `gw-` then lowercase letters and digits, globally unique.
    pub gateway_id: String,
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGateway {
    pub name: Option<String>,
    pub site_id: Option<Uuid>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GatewayQuery {
    pub site_id: Option<Uuid>,
    pub online: Option<bool>,
}

fn not_found(e: store::StoreError) -> ApiError {
    ApiError::from_store(e, "gateway_not_found", "gateway")
}

/// List gateways.
#[utoipa::path(get, path = "/api/v1/gateways", tag = "devices", security(("bearer" = [])),
    params(ListQuery, SortQuery, GatewayQuery),
    responses((status = 200, body = ListResponse<GatewayView>),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/gateways")]
pub async fn list(
    ctx: OrgContext,
    state: web::Data<AppState>,
    page: web::Query<ListQuery>,
    sort: web::Query<SortQuery>,
    q: web::Query<GatewayQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let page = sort.apply(page.page()?, SORTS)?;
    let paged = store::gateway::list_filtered(
        &state.db,
        ctx.scope(),
        q.site_id.map(SiteId::from),
        q.online,
        page,
    )
    .await?;
    Ok(HttpResponse::Ok().json(ListResponse::from_paged(paged, page, GatewayView::from)))
}

/// Register a gateway; the answer carries its MQTT password, once.
#[utoipa::path(post, path = "/api/v1/gateways", tag = "devices", security(("bearer" = [])),
    request_body = CreateGateway,
    responses((status = 201, body = GatewayWithPassword),
        (status = 404, description = "`site_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_exists`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid`: bad wire id", body = Problem, content_type = "application/problem+json")))]
#[post("/gateways")]
pub async fn create(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<CreateGateway>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::DEVICES)?;
    let body = body.into_inner();
    let (g, password) = devices::create_gateway(
        &state.db,
        &ctx,
        SiteId::from(body.site_id),
        body.gateway_id.trim().to_owned(),
        valid_name("name", &body.name)?,
    )
    .await?;
    Ok(HttpResponse::Created().json(GatewayWithPassword {
        mqtt_username: g.gateway_id.clone(),
        gateway: GatewayView::from(g),
        mqtt_password: password,
    }))
}

/// One gateway.
#[utoipa::path(get, path = "/api/v1/gateways/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = GatewayView),
        (status = 404, description = "`gateway_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/gateways/{id}")]
pub async fn get(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let g = store::gateway::get(&state.db, ctx.scope(), GatewayId::from(*id))
        .await
        .map_err(not_found)?;
    Ok(HttpResponse::Ok().json(GatewayView::from(g)))
}

/// Rename a gateway or move it to another site.
#[utoipa::path(patch, path = "/api/v1/gateways/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateGateway,
    responses((status = 200, body = GatewayView),
        (status = 404, description = "`gateway_not_found`", body = Problem, content_type = "application/problem+json")))]
#[patch("/gateways/{id}")]
pub async fn update(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateGateway>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::DEVICES)?;
    let body = body.into_inner();
    let name = body
        .name
        .as_deref()
        .map(|n| valid_name("name", n))
        .transpose()?;
    let site = body.site_id.map(SiteId::from);
    let id = GatewayId::from(*id);
    let g = state
        .db
        .transaction::<_, Gateway, ApiError>(|txn| {
            Box::pin(async move {
                let before = store::gateway::get(txn, ctx.scope(), id)
                    .await
                    .map_err(not_found)?;
                let after = store::gateway::update(txn, ctx.scope(), id, name, site)
                    .await
                    .map_err(|e| ApiError::from_store(e, "site_not_found", "site"))?;
                ctx.audit(
                    txn,
                    "gateway.update",
                    "gateway",
                    id,
                    serde_json::json!({"before": before, "after": &after}),
                )
                .await?;
                Ok(after)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(GatewayView::from(g)))
}

/// Issue a new MQTT password (the old one stops working once the broker reloads its file).
#[utoipa::path(post, path = "/api/v1/gateways/{id}/password", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = GatewayWithPassword),
        (status = 404, description = "`gateway_not_found`", body = Problem, content_type = "application/problem+json")))]
#[post("/gateways/{id}/password")]
pub async fn rotate_password(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::DEVICES)?;
    let id = GatewayId::from(*id);
    let password = mqtt_password::generate_password();
    let hash = mqtt_password::hash(&password);
    let g = state
        .db
        .transaction::<_, Gateway, ApiError>(|txn| {
            Box::pin(async move {
                store::gateway::get(txn, ctx.scope(), id)
                    .await
                    .map_err(not_found)?;
                let g = store::gateway::set_password_hash(txn, ctx.scope(), id, hash).await?;
                ctx.audit(
                    txn,
                    "gateway.rotate_password",
                    "gateway",
                    id,
                    serde_json::json!({}),
                )
                .await?;
                Ok(g)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(GatewayWithPassword {
        mqtt_username: g.gateway_id.clone(),
        gateway: GatewayView::from(g),
        mqtt_password: password,
    }))
}

/// Delete a gateway without meters.
#[utoipa::path(delete, path = "/api/v1/gateways/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204),
        (status = 404, description = "`gateway_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`in_use`", body = Problem, content_type = "application/problem+json")))]
#[delete("/gateways/{id}")]
pub async fn remove(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::ADMIN)?;
    let id = GatewayId::from(*id);
    state
        .db
        .transaction::<_, (), ApiError>(|txn| {
            Box::pin(async move {
                let before = store::gateway::get(txn, ctx.scope(), id)
                    .await
                    .map_err(not_found)?;
                store::gateway::delete(txn, ctx.scope(), id).await?;
                ctx.audit(
                    txn,
                    "gateway.delete",
                    "gateway",
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
    ("gateway_id", "gateway_id"),
    ("name", "name"),
    ("online", "online"),
    ("last_seen_at", "last_seen_at"),
    ("created_at", "created_at"),
];
