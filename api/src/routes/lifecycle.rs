//! Account lifecycle: closing an account with its final settlement (销户,
//! `POST /api/v1/accounts/{id}/close`) and replacing a meter (`POST /api/v1/meters/{id}/replace`).
//! The rules live in [`crate::service::settlement`].

use actix_web::{post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::counter::PaymentMethod;
use store::meter::NewMeter;
use store::{AccountId, GatewayId, MeterId};
use utoipa::ToSchema;
use uuid::Uuid;

use super::counter::PaymentMethodParam;
use super::meter::MeterView;
use super::reading::parse_register;
use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::service::replacement::{replace_meter, ReplaceRequest};
use crate::service::settlement::{self, CloseRequest, ClosingStatement, Settlement};
use crate::startup::AppState;

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum SettlementParam {
    /// To the providers that paid (what they do not cover, in cash).
    Refund,
    CashRefund,
    /// A negative balance, paid at the counter.
    Collect,
}

/// How to close an account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseAccount {
    /// The unit's meter register now, kWh (the unit must have exactly one meter).
    pub final_reading_kwh: Option<String>,
    pub settlement: SettlementParam,
    /// How a `collect` is paid; default `cash`.
    pub method: Option<PaymentMethodParam>,
    pub note: Option<String>,
    /// Leave the power on (the next occupant moves in at once); default: trip.
    #[serde(default)]
    pub keep_power: bool,
}

/// Close an account (销户): rate the final reading, settle the balance to zero (refund or
/// collect), close it, trip its meters; answers the settlement statement.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/close", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CloseAccount,
    responses((status = 200, body = ClosingStatement),
        (status = 400, description = "`invalid_reading`, refund errors", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`account_closed`, `balance_changed`, `duplicate_reading`, `meter_suspended`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`amount_due`, `settlement_mismatch`, `register_went_down`, `no_meter`, `meter_ambiguous`, `no_tariff`, `reading_not_trusted`", body = Problem, content_type = "application/problem+json")))]
#[post("/accounts/{id}/close")]
pub async fn close(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<CloseAccount>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let b = body.into_inner();
    let req = CloseRequest {
        final_reading_wh: b
            .final_reading_kwh
            .as_deref()
            .map(|s| parse_register("final_reading_kwh", s))
            .transpose()?,
        settlement: match b.settlement {
            SettlementParam::Refund => Settlement::Refund,
            SettlementParam::CashRefund => Settlement::CashRefund,
            SettlementParam::Collect => Settlement::Collect,
        },
        method: match b.method {
            None | Some(PaymentMethodParam::Cash) => PaymentMethod::Cash,
            Some(PaymentMethodParam::Card) => PaymentMethod::Card,
            Some(PaymentMethodParam::Transfer) => PaymentMethod::Transfer,
        },
        note: b
            .note
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        keep_power: b.keep_power,
    };
    let statement = settlement::close_account(
        &state.db,
        &state.pay.clients,
        &ctx,
        AccountId::from(*id),
        req,
    )
    .await?;
    Ok(HttpResponse::Ok().json(statement))
}

/// The meter that takes the old one's place (same gateway and unit).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplacementMeter {
    /// `[A-Za-z0-9_-]{1,64}`; may be the old meter's.
    pub wire_id: String,
    /// Modbus slave id, 1 to 247.
    pub slave_id: i32,
    /// Default: the old meter's bus.
    pub bus: Option<String>,
    pub model: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub register_map: Option<serde_json::Value>,
    /// Decimal string, default `1`.
    pub ct_ratio: Option<String>,
    /// Decimal string (kW), default `60`.
    pub max_power_kw: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceMeter {
    /// The old meter's register when it was taken out, kWh.
    pub old_final_reading_kwh: String,
    pub new: ReplacementMeter,
    /// The new meter's register when it was put in, kWh.
    pub new_start_reading_kwh: String,
    pub replaced_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct Replacement {
    pub old_meter_id: Uuid,
    /// Charged for the old meter's consumption up to its final reading.
    pub charged: String,
    pub new_meter: MeterView,
}

/// Replace a meter: the old one's final reading is charged, it retires, the new one starts at
/// its start reading; the gateway gets a new config.
#[utoipa::path(post, path = "/api/v1/meters/{id}/replace", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ReplaceMeter,
    responses((status = 201, body = Replacement),
        (status = 400, description = "`invalid_reading`, `invalid_body`, `invalid_slave`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`meter_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`meter_retired`, `already_exists`, `duplicate_reading`, `meter_suspended`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`register_went_down`, `no_tariff`, `reading_not_trusted`", body = Problem, content_type = "application/problem+json")))]
#[post("/meters/{id}/replace")]
pub async fn replace(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<ReplaceMeter>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::DEVICES)?;
    let b = body.into_inner();
    if b.new.model.is_none() == b.new.register_map.is_none() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "give exactly one of new.model and new.register_map",
        ));
    }
    if !(1..=247).contains(&b.new.slave_id) {
        return Err(ApiError::bad_request(
            "invalid_slave",
            "slave_id must be 1 to 247",
        ));
    }
    let old = MeterId::from(*id);
    let bus = match &b.new.bus {
        Some(bus) => super::site::valid_name("bus", bus)?,
        None => {
            store::meter::get(&state.db, ctx.scope(), old)
                .await
                .map_err(super::reading::meter_not_found)?
                .bus
        }
    };
    let decimal = |field: &str, s: Option<&str>, default: &str| {
        s.unwrap_or(default)
            .parse::<rust_decimal::Decimal>()
            .ok()
            .filter(|d| *d > rust_decimal::Decimal::ZERO)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_decimal",
                    format!("{field} must be a positive decimal string"),
                )
            })
    };
    let req = ReplaceRequest {
        old_final_wh: parse_register("old_final_reading_kwh", &b.old_final_reading_kwh)?,
        new_start_wh: parse_register("new_start_reading_kwh", &b.new_start_reading_kwh)?,
        replaced_at: b.replaced_at,
        new: NewMeter {
            // Both set from the old meter by the service.
            gateway_id: GatewayId::from(Uuid::nil()),
            unit_id: None,
            bus,
            slave: b.new.slave_id,
            wire_id: b.new.wire_id,
            model: b.new.model,
            register_map: b.new.register_map,
            ct_ratio: decimal("new.ct_ratio", b.new.ct_ratio.as_deref(), "1")?,
            max_power_kw: decimal("new.max_power_kw", b.new.max_power_kw.as_deref(), "60")?,
        },
    };
    if req.replaced_at > Utc::now() + chrono::Duration::minutes(5) {
        return Err(ApiError::unprocessable(
            "reading_in_future",
            "replaced_at is in the future",
        ));
    }
    let (charged, new_meter) = replace_meter(&state.db, &ctx, old, req).await?;
    Ok(HttpResponse::Created().json(Replacement {
        old_meter_id: old.into(),
        charged: charged.to_string(),
        new_meter: MeterView::load(&state.db, ctx.org_id, new_meter).await?,
    }))
}
