//! Meters: `/api/v1/meters`. Every change of a gateway's meters writes a
//! `gateway.config_changed` outbox row (payload `{"gateway_id", "gateway"}`: row id and wire id)
//! in the same transaction, so the worker republishes that gateway's config.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, TransactionTrait as _};
use serde::{Deserialize, Serialize};
use store::meter::{MeterChanges, MeterFilter, NewMeter};
use store::{AccountId, AccountStatus, GatewayId, Meter, MeterId, OrgId, UnitId};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse, SortQuery};
use crate::service::devices::{self, config_changed};
use crate::startup::AppState;

#[derive(Serialize, ToSchema)]
pub struct MeterView {
    pub id: Uuid,
    pub gateway_id: Uuid,
    pub unit_id: Option<Uuid>,
    /// The open account of the meter's unit.
    pub account_id: Option<Uuid>,
    pub bus: String,
    pub slave: i32,
    pub wire_id: String,
    pub model: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub register_map: Option<serde_json::Value>,
    /// Decimal string.
    pub ct_ratio: String,
    pub max_power_kw: String,
    /// Last relay state read back: `open`, `closed` or `unknown`.
    pub relay: String,
    pub last_reading_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl MeterView {
    pub async fn load(conn: &impl ConnectionTrait, org: OrgId, m: Meter) -> Result<Self, ApiError> {
        let last = store::meter::last_reading(conn, org, m.id).await?;
        let account_id = match m.unit_id {
            Some(unit) => open_account_of(conn, org, unit).await?,
            None => None,
        };
        Ok(MeterView {
            id: m.id.into(),
            gateway_id: m.gateway_id.into(),
            unit_id: m.unit_id.map(Into::into),
            account_id: account_id.map(Into::into),
            bus: m.bus,
            slave: m.slave,
            wire_id: m.wire_id,
            model: m.model,
            register_map: m.register_map.and_then(|s| serde_json::from_str(&s).ok()),
            ct_ratio: m.ct_ratio,
            max_power_kw: m.max_power_kw,
            relay: last
                .as_ref()
                .and_then(|r| r.relay.clone())
                .unwrap_or_else(|| "unknown".to_owned()),
            last_reading_at: last.map(|r| r.ts),
            created_at: m.created_at,
        })
    }
}

async fn open_account_of(
    conn: &impl ConnectionTrait,
    org: OrgId,
    unit: UnitId,
) -> Result<Option<AccountId>, ApiError> {
    let filter = store::account::AccountFilter {
        unit_id: Some(unit),
        status: Some(AccountStatus::Open),
        ..Default::default()
    };
    let page = store::account::list_filtered(conn, org, &filter, store::Page::new(1, 1)).await?;
    Ok(page.items.into_iter().next().map(|a| a.id))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMeter {
    pub gateway_id: Uuid,
    pub unit_id: Option<Uuid>,
    /// The gateway's bus name (`rs485-1`).
    pub bus: String,
    /// Modbus slave id, 1 to 247.
    pub slave: i32,
    /// `[A-Za-z0-9_-]{1,64}`, unique within the gateway.
    pub wire_id: String,
    /// A preset model name, or give `register_map`.
    pub model: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub register_map: Option<serde_json::Value>,
    /// Current-transformer ratio (变比), decimal string, default `1`.
    pub ct_ratio: Option<String>,
    /// Maximum plausible power in kW, decimal string, default `60`.
    pub max_power_kw: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeter {
    pub gateway_id: Option<Uuid>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub unit_id: Option<Option<Uuid>>,
    pub bus: Option<String>,
    pub slave: Option<i32>,
    pub wire_id: Option<String>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    #[schema(value_type = Option<String>)]
    pub model: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    #[schema(value_type = Option<Object>)]
    pub register_map: Option<Option<serde_json::Value>>,
    pub ct_ratio: Option<String>,
    pub max_power_kw: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MeterQuery {
    pub gateway_id: Option<Uuid>,
    pub unit_id: Option<Uuid>,
    /// Meters of this account's unit.
    pub account_id: Option<Uuid>,
}

fn decimal(field: &str, s: &str) -> Result<Decimal, ApiError> {
    s.parse::<Decimal>()
        .ok()
        .filter(|d| *d > Decimal::ZERO)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_decimal",
                format!("{field} must be a positive decimal string"),
            )
        })
}

fn valid_slave(slave: i32) -> Result<i32, ApiError> {
    if (1..=247).contains(&slave) {
        Ok(slave)
    } else {
        Err(ApiError::bad_request(
            "invalid_slave",
            "slave must be 1 to 247",
        ))
    }
}

fn not_found(e: store::StoreError) -> ApiError {
    ApiError::from_store(e, "meter_not_found", "meter")
}

/// List meters, by gateway, unit or account.
#[utoipa::path(get, path = "/api/v1/meters", tag = "devices", security(("bearer" = [])),
    params(ListQuery, SortQuery, MeterQuery),
    responses((status = 200, body = ListResponse<MeterView>),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/meters")]
pub async fn list(
    ctx: OrgContext,
    state: web::Data<AppState>,
    page: web::Query<ListQuery>,
    sort: web::Query<SortQuery>,
    q: web::Query<MeterQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let page = sort.apply(page.page()?, SORTS)?;
    let mut unit_id = q.unit_id.map(UnitId::from);
    if let Some(account) = q.account_id {
        let a = store::account::get(&state.db, ctx.scope(), AccountId::from(account))
            .await
            .map_err(super::account::not_found)?;
        unit_id = Some(a.unit_id);
    }
    let filter = MeterFilter {
        gateway_id: q.gateway_id.map(GatewayId::from),
        unit_id,
    };
    let paged = store::meter::list_filtered(&state.db, ctx.scope(), &filter, page).await?;
    let mut items = Vec::with_capacity(paged.items.len());
    for m in paged.items {
        items.push(MeterView::load(&state.db, ctx.org_id, m).await?);
    }
    Ok(HttpResponse::Ok().json(ListResponse {
        items,
        page: page.page,
        per_page: page.per_page,
        total: paged.total,
    }))
}

/// Add a meter to a gateway.
#[utoipa::path(post, path = "/api/v1/meters", tag = "devices", security(("bearer" = [])),
    request_body = CreateMeter,
    responses((status = 201, body = MeterView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_exists`: wire id taken on this gateway", body = Problem, content_type = "application/problem+json")))]
#[post("/meters")]
pub async fn create(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<CreateMeter>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::DEVICES)?;
    let b = body.into_inner();
    if b.model.is_none() == b.register_map.is_none() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "give exactly one of model and register_map",
        ));
    }
    let new = NewMeter {
        gateway_id: GatewayId::from(b.gateway_id),
        unit_id: b.unit_id.map(UnitId::from),
        bus: super::site::valid_name("bus", &b.bus)?,
        slave: valid_slave(b.slave)?,
        wire_id: b.wire_id,
        model: b.model,
        register_map: b.register_map,
        ct_ratio: decimal("ct_ratio", b.ct_ratio.as_deref().unwrap_or("1"))?,
        max_power_kw: decimal("max_power_kw", b.max_power_kw.as_deref().unwrap_or("60"))?,
    };
    let m = devices::add_meter(&state.db, &ctx, new).await?;
    Ok(HttpResponse::Created().json(MeterView::load(&state.db, ctx.org_id, m).await?))
}

/// One meter, with its last relay state and reading time.
#[utoipa::path(get, path = "/api/v1/meters/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MeterView),
        (status = 404, description = "`meter_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/meters/{id}")]
pub async fn get(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let m = store::meter::get(&state.db, ctx.scope(), MeterId::from(*id))
        .await
        .map_err(not_found)?;
    Ok(HttpResponse::Ok().json(MeterView::load(&state.db, ctx.org_id, m).await?))
}

/// Change a meter (both the old and the new gateway get a fresh config).
#[utoipa::path(patch, path = "/api/v1/meters/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateMeter,
    responses((status = 200, body = MeterView),
        (status = 404, description = "`meter_not_found`", body = Problem, content_type = "application/problem+json")))]
#[patch("/meters/{id}")]
pub async fn update(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateMeter>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::DEVICES)?;
    let b = body.into_inner();
    let changes = MeterChanges {
        gateway_id: b.gateway_id.map(GatewayId::from),
        unit_id: b.unit_id.map(|u| u.map(UnitId::from)),
        bus: b
            .bus
            .as_deref()
            .map(|s| super::site::valid_name("bus", s))
            .transpose()?,
        slave: b.slave.map(valid_slave).transpose()?,
        wire_id: b.wire_id,
        model: b.model,
        register_map: b.register_map,
        ct_ratio: b
            .ct_ratio
            .as_deref()
            .map(|s| decimal("ct_ratio", s))
            .transpose()?,
        max_power_kw: b
            .max_power_kw
            .as_deref()
            .map(|s| decimal("max_power_kw", s))
            .transpose()?,
    };
    let id = MeterId::from(*id);
    let m = state
        .db
        .transaction::<_, Meter, ApiError>(|txn| {
            Box::pin(async move {
                let before = store::meter::get(txn, ctx.scope(), id)
                    .await
                    .map_err(not_found)?;
                let after = store::meter::update(txn, ctx.scope(), id, changes).await?;
                config_changed(txn, ctx.org_id, after.gateway_id).await?;
                if before.gateway_id != after.gateway_id {
                    config_changed(txn, ctx.org_id, before.gateway_id).await?;
                }
                ctx.audit(
                    txn,
                    "meter.update",
                    "meter",
                    id,
                    serde_json::json!({"before": before, "after": &after}),
                )
                .await?;
                Ok(after)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(MeterView::load(&state.db, ctx.org_id, m).await?))
}

/// Remove a meter that has no readings or commands.
#[utoipa::path(delete, path = "/api/v1/meters/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204),
        (status = 404, description = "`meter_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`in_use`", body = Problem, content_type = "application/problem+json")))]
#[delete("/meters/{id}")]
pub async fn remove(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::DEVICES)?;
    let id = MeterId::from(*id);
    state
        .db
        .transaction::<_, (), ApiError>(|txn| {
            Box::pin(async move {
                let before = store::meter::get(txn, ctx.scope(), id)
                    .await
                    .map_err(not_found)?;
                store::meter::delete(txn, ctx.scope(), id).await?;
                config_changed(txn, ctx.org_id, before.gateway_id).await?;
                ctx.audit(
                    txn,
                    "meter.delete",
                    "meter",
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
    ("wire_id", "wire_id"),
    ("bus", "bus"),
    ("slave", "slave"),
    ("created_at", "created_at"),
];
