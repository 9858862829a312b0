//! Bulk operations: `/api/v1/bulk/tariff`, `/api/v1/bulk/control-settings` and
//! `/api/v1/bulk/commands`.
//!
//! Each is all or nothing within the caller's organization: when any id is unknown or another
//! organization's the answer is 404 and nothing changes; when any item breaks a rule (a
//! protected account to trip, a close that needs an override) the answer is `422` naming every
//! such item and nothing changes. Otherwise everything is written in one transaction and the
//! answer lists each item's result. The rules are the single-row routes' own code
//! (`service::power`, `control::apply`), so bulk never behaves differently.

use actix_web::{post, web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait as _;
use serde::{Deserialize, Serialize};
use store::command::{Command, CommandAction};
use store::control_settings::Scope;
use store::{Account, AccountId, BuildingId, MeterId, SiteId, TariffId, UnitId};
use utoipa::ToSchema;
use uuid::Uuid;

use super::command::CommandView;
use super::control::{self, ControlSettingsBody};
use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, FieldError, Problem};
use crate::service::power;
use crate::startup::AppState;

/// Ids as a request gives them: at most 1000, duplicates dropped, order kept.
fn ids<T: From<Uuid> + Copy>(field: &str, raw: &[Uuid]) -> Result<Vec<T>, ApiError> {
    if raw.is_empty() || raw.len() > store::bulk::MAX_IDS {
        return Err(ApiError::bad_request(
            "invalid_selection",
            format!("{field} must name 1 to {} ids", store::bulk::MAX_IDS),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    Ok(raw
        .iter()
        .filter(|id| seen.insert(**id))
        .map(|id| T::from(*id))
        .collect())
}

fn one_selector(n: usize, fields: &str) -> Result<(), ApiError> {
    if n == 1 {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_selection",
            format!("give exactly one of {fields}"),
        ))
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkTariff {
    /// These units ...
    pub unit_ids: Option<Vec<Uuid>>,
    /// ... or every unit of a site ...
    pub site_id: Option<Uuid>,
    /// ... or of a building.
    pub building_id: Option<Uuid>,
    pub tariff_id: Uuid,
}

/// One unit's outcome.
#[derive(Serialize, ToSchema)]
pub struct TariffItem {
    pub unit_id: Uuid,
    /// The open account that now rates with the tariff; `null` for a vacant unit.
    pub account_id: Option<Uuid>,
    /// `updated`, `unchanged` (already on it) or `vacant`.
    pub result: String,
}

#[derive(Serialize, ToSchema)]
pub struct BulkTariffResult {
    pub items: Vec<TariffItem>,
    /// Accounts whose tariff changed.
    pub updated: usize,
}

/// Put many units' open accounts on a tariff.
#[utoipa::path(post, path = "/api/v1/bulk/tariff", tag = "bulk", security(("bearer" = [])),
    request_body = BulkTariff,
    responses((status = 200, body = BulkTariffResult),
        (status = 400, description = "`invalid_selection`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unit_not_found`, `site_not_found`, `building_not_found`, `tariff_not_found`: nothing changed", body = Problem, content_type = "application/problem+json")))]
#[post("/bulk/tariff")]
pub async fn tariff(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<BulkTariff>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let body = body.into_inner();
    one_selector(
        usize::from(body.unit_ids.is_some())
            + usize::from(body.site_id.is_some())
            + usize::from(body.building_id.is_some()),
        "unit_ids, site_id, building_id",
    )?;
    let org = ctx.org_id;
    let tariff = TariffId::from(body.tariff_id);
    store::tariff::get(&state.db, org, tariff)
        .await
        .map_err(|e| ApiError::from_store(e, "tariff_not_found", "tariff"))?;
    let units: Vec<UnitId> = if let Some(raw) = &body.unit_ids {
        store::bulk::units(&state.db, ctx.scope(), &ids::<UnitId>("unit_ids", raw)?)
            .await
            .map_err(|e| ApiError::from_store(e, "unit_not_found", "unit"))?
    } else if let Some(site) = body.site_id {
        let site = SiteId::from(site);
        store::site::get(&state.db, ctx.scope(), site)
            .await
            .map_err(|e| ApiError::from_store(e, "site_not_found", "site"))?;
        store::bulk::units_in(&state.db, ctx.scope(), Some(site), None).await?
    } else {
        let b = BuildingId::from(body.building_id.unwrap_or_default());
        store::building::get(&state.db, ctx.scope(), b)
            .await
            .map_err(|e| ApiError::from_store(e, "building_not_found", "building"))?;
        store::bulk::units_in(&state.db, ctx.scope(), None, Some(b)).await?
    };
    let result = state
        .db
        .transaction::<_, BulkTariffResult, ApiError>(|txn| {
            Box::pin(async move {
                let accounts = store::bulk::open_accounts_of_units(txn, org, &units).await?;
                let mut items = Vec::with_capacity(units.len());
                let mut updated = 0;
                for unit in &units {
                    let Some(a) = accounts.iter().find(|a| a.unit_id == *unit) else {
                        items.push(TariffItem {
                            unit_id: (*unit).into(),
                            account_id: None,
                            result: "vacant".into(),
                        });
                        continue;
                    };
                    let result = if a.tariff_id == Some(tariff) {
                        "unchanged"
                    } else {
                        // Audited by the store, like `PATCH /accounts/{id}`.
                        store::account::update(
                            txn,
                            org,
                            a.id,
                            store::account::AccountChanges {
                                tariff_id: Some(Some(tariff)),
                                ..Default::default()
                            },
                            Some(ctx.user_id),
                        )
                        .await?;
                        updated += 1;
                        "updated"
                    };
                    items.push(TariffItem {
                        unit_id: (*unit).into(),
                        account_id: Some(a.id.into()),
                        result: result.into(),
                    });
                }
                ctx.audit(
                    txn,
                    "bulk.tariff",
                    "tariff",
                    tariff,
                    serde_json::json!({"units": units.len(), "updated": updated}),
                )
                .await?;
                Ok(BulkTariffResult { items, updated })
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(result))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkControlSettings {
    /// These accounts ...
    pub account_ids: Option<Vec<Uuid>>,
    /// ... or every open account of a site.
    pub site_id: Option<Uuid>,
    /// The values to set on each account; fields left out (or `null`) keep each account's own
    /// value.
    pub settings: ControlSettingsBody,
}

/// One account's outcome.
#[derive(Serialize, ToSchema)]
pub struct ControlItem {
    pub account_id: Uuid,
    /// `updated`.
    pub result: String,
}

#[derive(Serialize, ToSchema)]
pub struct BulkControlResult {
    pub items: Vec<ControlItem>,
}

/// Set charge-control values on many accounts.
#[utoipa::path(post, path = "/api/v1/bulk/control-settings", tag = "bulk", security(("bearer" = [])),
    request_body = BulkControlSettings,
    responses((status = 200, body = BulkControlResult),
        (status = 400, description = "`invalid_selection`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`account_not_found`, `site_not_found`: nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_fields` with `errors`: nothing changed", body = Problem, content_type = "application/problem+json")))]
#[post("/bulk/control-settings")]
pub async fn control_settings(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<BulkControlSettings>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let body = body.into_inner();
    one_selector(
        usize::from(body.account_ids.is_some()) + usize::from(body.site_id.is_some()),
        "account_ids, site_id",
    )?;
    let org = ctx.org_id;
    let given =
        control::parse_body(&body.settings, "settings.").map_err(control::invalid_fields)?;
    let accounts: Vec<AccountId> = if let Some(raw) = &body.account_ids {
        store::bulk::accounts(
            &state.db,
            ctx.scope(),
            &ids::<AccountId>("account_ids", raw)?,
        )
        .await
        .map_err(super::account::not_found)?
        .into_iter()
        .map(|a| a.id)
        .collect()
    } else {
        let site = SiteId::from(body.site_id.unwrap_or_default());
        store::site::get(&state.db, ctx.scope(), site)
            .await
            .map_err(|e| ApiError::from_store(e, "site_not_found", "site"))?;
        store::control_settings::open_accounts_under(&state.db, org, Scope::Site(site)).await?
    };
    let result = state
        .db
        .transaction::<_, BulkControlResult, ApiError>(|txn| {
            Box::pin(async move {
                let mut items = Vec::with_capacity(accounts.len());
                for (i, account) in accounts.iter().enumerate() {
                    let scope = Scope::Account(*account);
                    let mut values = store::control_settings::own(txn, org, scope).await?;
                    if given.alarm_threshold.is_some() {
                        values.alarm_threshold = given.alarm_threshold;
                    }
                    if given.trip_threshold.is_some() {
                        values.trip_threshold = given.trip_threshold;
                    }
                    if given.trip_windows.is_some() {
                        values.trip_windows.clone_from(&given.trip_windows);
                    }
                    if given.restore_sla.is_some() {
                        values.restore_sla = given.restore_sla;
                    }
                    control::apply(txn, &ctx, scope, &values, "settings.")
                        .await
                        .map_err(|e| match e {
                            ApiError::InvalidFields {
                                code,
                                detail,
                                errors,
                            } => ApiError::InvalidFields {
                                code,
                                detail: format!("account {account}: {detail}"),
                                errors: errors
                                    .into_iter()
                                    .map(|mut f| {
                                        f.row = Some(i as u64 + 1);
                                        f
                                    })
                                    .collect(),
                            },
                            other => other,
                        })?;
                    items.push(ControlItem {
                        account_id: (*account).into(),
                        result: "updated".into(),
                    });
                }
                Ok(BulkControlResult { items })
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(result))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkCommand {
    /// These meters ...
    pub meter_ids: Option<Vec<Uuid>>,
    /// ... or every meter of these accounts' units.
    pub account_ids: Option<Vec<Uuid>>,
    /// `trip` or `close`.
    pub action: String,
    /// Close accounts at or below their trip threshold anyway (needs `until`).
    #[serde(default, rename = "override")]
    pub override_: bool,
    /// Until when a forced close holds (at most 31 days ahead).
    pub until: Option<DateTime<Utc>>,
}

/// One meter's queued command.
#[derive(Serialize, ToSchema)]
pub struct CommandItem {
    pub meter_id: Uuid,
    pub command: CommandView,
}

#[derive(Serialize, ToSchema)]
pub struct BulkCommandResult {
    pub items: Vec<CommandItem>,
}

/// Trip or close many meters at once, under the single-meter command's rules.
#[utoipa::path(post, path = "/api/v1/bulk/commands", tag = "bulk", security(("bearer" = [])),
    request_body = BulkCommand,
    responses((status = 202, body = BulkCommandResult),
        (status = 400, description = "`invalid_selection`, `invalid_action`, `invalid_until`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`meter_not_found`, `account_not_found`: nothing queued", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`bulk_rejected`: `errors` names each meter that breaks a rule (`account_protected`, `override_required`); nothing queued", body = Problem, content_type = "application/problem+json")))]
#[post("/bulk/commands")]
pub async fn commands(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<BulkCommand>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::DEVICES)?;
    let body = body.into_inner();
    one_selector(
        usize::from(body.meter_ids.is_some()) + usize::from(body.account_ids.is_some()),
        "meter_ids, account_ids",
    )?;
    let Ok(action @ (CommandAction::Trip | CommandAction::Close)) =
        body.action.parse::<CommandAction>()
    else {
        return Err(ApiError::bad_request(
            "invalid_action",
            "bulk commands are trip or close",
        ));
    };
    // Meters grouped by the open account they supply: the rules are per account.
    let mut groups: Vec<(Option<Account>, Vec<MeterId>)> = Vec::new();
    if let Some(raw) = &body.meter_ids {
        let meters =
            store::bulk::meters(&state.db, ctx.scope(), &ids::<MeterId>("meter_ids", raw)?)
                .await
                .map_err(|e| ApiError::from_store(e, "meter_not_found", "meter"))?;
        let units: Vec<UnitId> = meters.iter().filter_map(|m| m.unit_id).collect();
        let accounts = store::bulk::open_accounts_of_units(&state.db, ctx.scope(), &units).await?;
        for m in meters {
            let account = accounts
                .iter()
                .find(|a| Some(a.unit_id) == m.unit_id)
                .cloned();
            match groups
                .iter_mut()
                .find(|(a, _)| a.as_ref().map(|a| a.id) == account.as_ref().map(|a| a.id))
            {
                Some((_, meters)) => meters.push(m.id),
                None => groups.push((account, vec![m.id])),
            }
        }
    } else {
        let raw = body.account_ids.as_deref().unwrap_or_default();
        let accounts = store::bulk::accounts(
            &state.db,
            ctx.scope(),
            &ids::<AccountId>("account_ids", raw)?,
        )
        .await
        .map_err(super::account::not_found)?;
        for a in accounts {
            let meters = store::bulk::meters_of_units(&state.db, ctx.scope(), &[a.unit_id]).await?;
            groups.push((Some(a), meters.into_iter().map(|m| m.id).collect()));
        }
    }
    let now = Utc::now();
    let force = power::Override {
        requested: body.override_,
        until: body.until,
    };
    let mut planned = Vec::with_capacity(groups.len());
    let mut errors = Vec::new();
    for (account, meters) in groups {
        match power::charge_control_for(&state.db, account.as_ref(), action, force, now).await {
            Ok(control) => planned.push((meters, control)),
            Err(e @ (ApiError::Conflict { .. } | ApiError::BadRequest { .. })) => {
                for meter in meters {
                    errors.push(FieldError::new(
                        &format!("meter:{meter}"),
                        e.code(),
                        e.to_string(),
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::InvalidFields {
            code: "bulk_rejected",
            detail: format!("{} meter(s) break a rule; nothing was queued", errors.len()),
            errors,
        });
    }
    let queued = state
        .db
        .transaction::<_, Vec<Command>, ApiError>(|txn| {
            Box::pin(async move {
                let mut out = Vec::new();
                for (meters, control) in planned {
                    out.extend(
                        power::queue(txn, &ctx, &meters, action, force, control, now).await?,
                    );
                }
                Ok(out)
            })
        })
        .await?;
    Ok(HttpResponse::Accepted().json(BulkCommandResult {
        items: queued
            .into_iter()
            .map(|c| CommandItem {
                meter_id: c.meter_id.into(),
                command: c.into(),
            })
            .collect(),
    }))
}
