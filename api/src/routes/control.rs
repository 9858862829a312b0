//! Charge-control settings (费控参数) at three levels: `/api/v1/control-settings` (the
//! organization), `/api/v1/sites/{id}/control-settings` and `/api/v1/accounts/{id}/control-settings`.
//!
//! An account's value overrides its site's, which overrides the organization's, which overrides
//! the defaults; `GET` answers the level's own values, the values in force and where each comes
//! from (`store::control_settings` resolves them, for the worker as for this API). `PUT`
//! replaces the level's own values (a missing or `null` field inherits), tells the worker to
//! settle every open account it reaches (an `account.control_changed` outbox row each) and is
//! audited. Money is a string with at most 2 decimals (thresholds may be negative: an overdraft
//! allowance, 透支); anything invalid is a `422 invalid_fields` naming every bad field.

use actix_web::{get, put, web, HttpResponse};
use chrono::TimeDelta;
use domain::{Money, TripWindows};
use sea_orm::{ConnectionTrait, TransactionTrait as _};
use serde::{Deserialize, Serialize};
use store::control_settings::{Defaults, Effective, Overrides, Scope, Source};
use store::{AccountId, OrgId, SiteId};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, FieldError, Problem};
use crate::money::{parse_threshold, show};
use crate::startup::AppState;

/// The longest restore SLA one may set: a day.
const MAX_RESTORE_SLA_SECS: i64 = 86_400;

/// One level's values; a missing or `null` field inherits from the level above.
#[derive(Deserialize, Serialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ControlSettingsBody {
    /// Warn the tenant at or below this balance, yuan (`"20.00"`).
    pub alarm_threshold: Option<String>,
    /// Cut the power at or below this balance, yuan; negative allows an overdraft (`"-50.00"`).
    pub trip_threshold: Option<String>,
    /// When a trip may be executed: `{"times": [{"start": "09:00", "end": "17:00"}],
    /// "allow_weekends": false, "allow_holidays": false}` (local time of the site).
    #[schema(value_type = Option<Object>)]
    pub trip_windows: Option<serde_json::Value>,
    /// How fast power must be back after a payment before a work order is opened, seconds
    /// (1 to 86400).
    pub restore_sla_seconds: Option<i64>,
}

/// Where each value in force comes from: `account`, `site`, `organization` or `default`.
#[derive(Serialize, ToSchema)]
pub struct Sources {
    pub alarm_threshold: String,
    pub trip_threshold: String,
    pub trip_windows: String,
    pub restore_sla_seconds: String,
}

/// The values in force.
#[derive(Serialize, ToSchema)]
pub struct EffectiveSettings {
    pub alarm_threshold: String,
    pub trip_threshold: String,
    #[schema(value_type = Object)]
    pub trip_windows: serde_json::Value,
    pub restore_sla_seconds: i64,
    pub sources: Sources,
}

/// A level's own values and what is in force there.
#[derive(Serialize, ToSchema)]
pub struct ControlSettingsView {
    /// `organization`, `site` or `account`.
    pub level: String,
    /// The level's own values (`null`: inherited).
    pub own: ControlSettingsBody,
    /// What applies (for the organization and a site: to accounts without values of their own).
    pub effective: EffectiveSettings,
}

fn source_name(s: Source) -> String {
    match s {
        Source::Account => "account",
        Source::Site => "site",
        Source::Organization => "organization",
        Source::Default => "default",
    }
    .to_owned()
}

fn own_view(o: &Overrides) -> ControlSettingsBody {
    ControlSettingsBody {
        alarm_threshold: o.alarm_threshold.map(show),
        trip_threshold: o.trip_threshold.map(show),
        trip_windows: o
            .trip_windows
            .as_ref()
            .and_then(|w| serde_json::to_value(w).ok()),
        restore_sla_seconds: o.restore_sla.map(|d| d.num_seconds()),
    }
}

fn effective_view(e: &Effective) -> EffectiveSettings {
    EffectiveSettings {
        alarm_threshold: show(e.alarm_threshold.value),
        trip_threshold: show(e.trip_threshold.value),
        trip_windows: serde_json::to_value(&e.trip_windows.value).unwrap_or_default(),
        restore_sla_seconds: e.restore_sla.value.num_seconds(),
        sources: Sources {
            alarm_threshold: source_name(e.alarm_threshold.source),
            trip_threshold: source_name(e.trip_threshold.source),
            trip_windows: source_name(e.trip_windows.source),
            restore_sla_seconds: source_name(e.restore_sla.source),
        },
    }
}

/// Parses a body into a level's values, collecting every bad field (`prefix` names the object
/// the body sits in, e.g. `settings.` in a bulk request).
pub fn parse_body(body: &ControlSettingsBody, prefix: &str) -> Result<Overrides, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut money = |name: &str, v: &Option<String>| -> Option<Money> {
        let s = v.as_deref()?;
        match parse_threshold(name, s) {
            Ok(m) if m <= Money::from_fen(100_000_000) && m >= -Money::from_fen(100_000_000) => {
                Some(m)
            }
            _ => {
                errors.push(FieldError::new(
                    &format!("{prefix}{name}"),
                    "invalid_amount",
                    "an amount in yuan with at most 2 decimals, optionally negative, like \"20.00\"",
                ));
                None
            }
        }
    };
    let alarm_threshold = money("alarm_threshold", &body.alarm_threshold);
    let trip_threshold = money("trip_threshold", &body.trip_threshold);
    let trip_windows = match &body.trip_windows {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => match serde_json::from_value::<TripWindows>(v.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                errors.push(FieldError::new(
                    &format!("{prefix}trip_windows"),
                    "invalid_trip_windows",
                    format!(
                        "{{\"times\": [{{\"start\": \"09:00\", \"end\": \"17:00\"}}], \
                         \"allow_weekends\": bool, \"allow_holidays\": bool}}: {e}"
                    ),
                ));
                None
            }
        },
    };
    let restore_sla = match body.restore_sla_seconds {
        None => None,
        Some(s) if (1..=MAX_RESTORE_SLA_SECS).contains(&s) => Some(TimeDelta::seconds(s)),
        Some(_) => {
            errors.push(FieldError::new(
                &format!("{prefix}restore_sla_seconds"),
                "invalid_restore_sla",
                "seconds from 1 to 86400",
            ));
            None
        }
    };
    if let (Some(alarm), Some(trip)) = (alarm_threshold, trip_threshold) {
        if trip > alarm {
            errors.push(FieldError::new(
                &format!("{prefix}trip_threshold"),
                "trip_above_alarm",
                "the trip threshold must not be above the alarm threshold",
            ));
        }
    }
    if errors.is_empty() {
        Ok(Overrides {
            alarm_threshold,
            trip_threshold,
            trip_windows,
            restore_sla,
        })
    } else {
        Err(errors)
    }
}

/// `422 invalid_fields` listing `errors`.
pub fn invalid_fields(errors: Vec<FieldError>) -> ApiError {
    ApiError::InvalidFields {
        code: "invalid_fields",
        detail: format!("{} invalid field(s)", errors.len()),
        errors,
    }
}

/// The values in force at `scope`.
pub async fn effective_at(
    conn: &impl ConnectionTrait,
    org: OrgId,
    scope: Scope,
) -> Result<Effective, ApiError> {
    let defaults = Defaults::default();
    Ok(match scope {
        Scope::Organization => {
            store::control_settings::effective_for_organization(conn, org, &defaults).await?
        }
        Scope::Site(id) => {
            let site = store::site::get(conn, org, id).await?;
            store::control_settings::effective_for_site(conn, org, &site, &defaults).await?
        }
        Scope::Account(id) => {
            let a = store::account::get(conn, org, id).await?;
            store::control_settings::effective_for_account(conn, org, &a, &defaults).await?
        }
    })
}

async fn view(
    conn: &impl ConnectionTrait,
    org: OrgId,
    scope: Scope,
) -> Result<ControlSettingsView, ApiError> {
    let own = store::control_settings::own(conn, org, scope).await?;
    let effective = effective_at(conn, org, scope).await?;
    Ok(ControlSettingsView {
        level: match scope {
            Scope::Organization => "organization",
            Scope::Site(_) => "site",
            Scope::Account(_) => "account",
        }
        .to_owned(),
        own: own_view(&own),
        effective: effective_view(&effective),
    })
}

/// Writes a level's values in the caller's transaction: checks that the result keeps the alarm
/// threshold at or above the trip threshold, tells the worker about each open account it
/// reaches, and audits. Answers the accounts reached.
pub async fn apply(
    txn: &impl ConnectionTrait,
    ctx: &OrgContext,
    scope: Scope,
    values: &Overrides,
    field_prefix: &str,
) -> Result<usize, ApiError> {
    let org = ctx.org_id;
    let before = store::control_settings::own(txn, org, scope).await?;
    store::control_settings::put(txn, org, scope, values).await?;
    let after = effective_at(txn, org, scope).await?;
    if after.trip_threshold.value > after.alarm_threshold.value {
        return Err(invalid_fields(vec![FieldError::new(
            &format!("{field_prefix}trip_threshold"),
            "trip_above_alarm",
            format!(
                "the trip threshold in force ({}) would be above the alarm threshold in force ({})",
                after.trip_threshold.value, after.alarm_threshold.value
            ),
        )]));
    }
    let accounts = store::control_settings::open_accounts_under(txn, org, scope).await?;
    for account in &accounts {
        store::outbox::enqueue(
            txn,
            Some(org),
            store::outbox::kind::ACCOUNT_CONTROL_CHANGED,
            serde_json::json!({"account_id": account}),
        )
        .await?;
    }
    let (target_type, target_id) = match scope {
        Scope::Organization => ("organization", org.to_string()),
        Scope::Site(id) => ("site", id.to_string()),
        Scope::Account(id) => ("account", id.to_string()),
    };
    ctx.audit(
        txn,
        "control_settings.update",
        target_type,
        target_id,
        serde_json::json!({"before": own_view(&before), "after": own_view(values)}),
    )
    .await?;
    Ok(accounts.len())
}

async fn put_level(
    ctx: OrgContext,
    state: &AppState,
    scope: Scope,
    body: &ControlSettingsBody,
) -> Result<HttpResponse, ApiError> {
    let values = parse_body(body, "").map_err(invalid_fields)?;
    let view = state
        .db
        .transaction::<_, ControlSettingsView, ApiError>(|txn| {
            Box::pin(async move {
                apply(txn, &ctx, scope, &values, "").await?;
                view(txn, ctx.org_id, scope).await
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

fn site_not_found(e: ApiError) -> ApiError {
    match e {
        ApiError::NotFound { .. } => ApiError::not_found("site_not_found", "site"),
        other => other,
    }
}

fn account_not_found(e: ApiError) -> ApiError {
    match e {
        ApiError::NotFound { .. } => ApiError::not_found("account_not_found", "account"),
        other => other,
    }
}

/// The organization's charge-control settings.
#[utoipa::path(get, path = "/api/v1/control-settings", tag = "control", security(("bearer" = [])),
    responses((status = 200, body = ControlSettingsView),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/control-settings")]
pub async fn get_org(
    ctx: OrgContext,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    Ok(HttpResponse::Ok().json(view(&state.db, ctx.org_id, Scope::Organization).await?))
}

/// Replace the organization's charge-control settings (org admins).
#[utoipa::path(put, path = "/api/v1/control-settings", tag = "control", security(("bearer" = [])),
    request_body = ControlSettingsBody,
    responses((status = 200, body = ControlSettingsView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_fields` with `errors`", body = Problem, content_type = "application/problem+json")))]
#[put("/control-settings")]
pub async fn put_org(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<ControlSettingsBody>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::ADMIN)?;
    if !ctx.scope().is_whole_org() {
        // The organization's level reaches every site: not for staff limited to some.
        return Err(ApiError::Forbidden);
    }
    put_level(ctx, &state, Scope::Organization, &body).await
}

/// A site's charge-control settings.
#[utoipa::path(get, path = "/api/v1/sites/{id}/control-settings", tag = "control", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ControlSettingsView),
        (status = 404, description = "`site_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/sites/{id}/control-settings")]
pub async fn get_site(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let site = SiteId::from(*id);
    store::site::get(&state.db, ctx.scope(), site)
        .await
        .map_err(|e| ApiError::from_store(e, "site_not_found", "site"))?;
    let scope = Scope::Site(site);
    let v = view(&state.db, ctx.org_id, scope)
        .await
        .map_err(site_not_found)?;
    Ok(HttpResponse::Ok().json(v))
}

/// Replace a site's charge-control settings.
#[utoipa::path(put, path = "/api/v1/sites/{id}/control-settings", tag = "control", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ControlSettingsBody,
    responses((status = 200, body = ControlSettingsView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`site_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_fields` with `errors`", body = Problem, content_type = "application/problem+json")))]
#[put("/sites/{id}/control-settings")]
pub async fn put_site(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<ControlSettingsBody>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let site = SiteId::from(*id);
    store::site::get(&state.db, ctx.scope(), site)
        .await
        .map_err(|e| ApiError::from_store(e, "site_not_found", "site"))?;
    put_level(ctx, &state, Scope::Site(site), &body).await
}

/// An account's charge-control settings (its thresholds are the account's own, as
/// `PATCH /accounts/{id}` sets them).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/control-settings", tag = "control", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ControlSettingsView),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/accounts/{id}/control-settings")]
pub async fn get_account(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let account = AccountId::from(*id);
    store::account::get(&state.db, ctx.scope(), account)
        .await
        .map_err(super::account::not_found)?;
    let scope = Scope::Account(account);
    let v = view(&state.db, ctx.org_id, scope)
        .await
        .map_err(account_not_found)?;
    Ok(HttpResponse::Ok().json(v))
}

/// Replace an account's charge-control settings.
#[utoipa::path(put, path = "/api/v1/accounts/{id}/control-settings", tag = "control", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ControlSettingsBody,
    responses((status = 200, body = ControlSettingsView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_fields` with `errors`", body = Problem, content_type = "application/problem+json")))]
#[put("/accounts/{id}/control-settings")]
pub async fn put_account(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<ControlSettingsBody>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let account = AccountId::from(*id);
    store::account::get(&state.db, ctx.scope(), account)
        .await
        .map_err(super::account::not_found)?;
    put_level(ctx, &state, Scope::Account(account), &body).await
}
