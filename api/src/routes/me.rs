//! Tenant self-service: `/api/v1/me/...`, for a tenant signed in with a one-time code. A tenant
//! reaches only the accounts of their own tenant records ([`TenantContext`]); any other id
//! answers 404.

use std::collections::BTreeMap;

use actix_web::{get, put, web, HttpResponse};
use chrono::{DateTime, Days, Utc};
use rust_decimal::Decimal;
use sea_orm::TransactionTrait as _;
use serde::{Deserialize, Serialize};
use store::tenant_preference::{Delivery, Preferences};
use store::{Account, AccountId, AccountStatus};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ledger::LedgerEntryView;
use crate::auth::TenantContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse};
use crate::money::show;
use crate::service::live_view::{live_view, site_tz};
use crate::startup::AppState;

/// An account as its tenant sees it.
#[derive(Serialize, ToSchema)]
pub struct MyAccount {
    pub id: Uuid,
    pub account_no: String,
    /// The property company.
    pub organization: String,
    /// `Building 1 101`.
    pub unit: String,
    /// Yuan, two decimals.
    pub balance: String,
    /// Charge-control state: `normal`, `alarmed`, `trip_pending`, `tripped`, `restoring`, ...
    pub state: String,
    /// `on`, `soon_off`, `off` or `restoring`.
    pub power: String,
    /// The meter's relay as last read back: `open`, `closed` or `unknown`.
    pub relay: String,
    /// `open` or `closed`.
    pub status: String,
    pub last_reading_at: Option<DateTime<Utc>>,
    /// kWh used today (the site's local day).
    pub today_kwh: String,
    pub today_cost: String,
    /// `cache` (the worker's live snapshot) or `database`.
    pub source: String,
}

pub(crate) fn kwh(wh: i64) -> String {
    Decimal::new(wh, 3).to_string()
}

async fn my_account(state: &AppState, a: Account) -> Result<MyAccount, ApiError> {
    let db = &state.db;
    let org = a.organization_id;
    let live = live_view(state, &a).await?;
    let unit = store::unit::get(db, org, a.unit_id).await?;
    let building = store::building::get(db, org, unit.building_id).await?;
    let organization = store::organization::get_organization(db, org).await?.name;
    Ok(MyAccount {
        id: a.id.into(),
        account_no: a.account_no,
        organization,
        unit: format!("{} {}", building.name, unit.name),
        balance: show(live.balance),
        power: crate::service::live_view::power_of(&live.cc_state).to_owned(),
        state: live.cc_state,
        relay: live.relay.unwrap_or_else(|| "unknown".to_owned()),
        status: match a.status {
            AccountStatus::Open => "open",
            AccountStatus::Closed => "closed",
        }
        .to_owned(),
        last_reading_at: live.last_reading_at,
        today_kwh: kwh(live.today_kwh.to_wh().unwrap_or(0)),
        today_cost: show(live.today_cost),
        source: live.source.to_owned(),
    })
}

/// The caller's accounts (a phone may hold several: a home and a shop), newest first.
#[utoipa::path(get, path = "/api/v1/me/accounts", tag = "tenant", security(("bearer" = [])),
    responses((status = 200, body = ListResponse<MyAccount>),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/me/accounts")]
pub async fn accounts(
    ctx: TenantContext,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut items = Vec::new();
    for a in ctx.accounts(&state.db).await? {
        items.push(my_account(&state, a).await?);
    }
    let total = items.len() as u64;
    Ok(HttpResponse::Ok().json(ListResponse {
        items,
        page: 1,
        per_page: total.max(1),
        total,
    }))
}

/// One of the caller's accounts: balance, power and charge-control state, last reading time,
/// from the live cache with fallback to the database.
#[utoipa::path(get, path = "/api/v1/me/accounts/{id}", tag = "tenant", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MyAccount),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/me/accounts/{id}")]
pub async fn account(
    ctx: TenantContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let a = ctx.account(&state.db, AccountId::from(*id)).await?;
    Ok(HttpResponse::Ok().json(my_account(&state, a).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// Days back from today, 1 to 366 (default 30).
    pub days: Option<u32>,
}

/// One local day of usage.
#[derive(Serialize, ToSchema)]
pub struct DayUsageView {
    /// `YYYY-MM-DD`, the site's local day.
    pub date: String,
    pub kwh: String,
    pub cost: String,
}

#[derive(Serialize, ToSchema)]
pub struct UsageView {
    /// Oldest first, every day of the range (days without usage are zero).
    pub days: Vec<DayUsageView>,
    pub total_kwh: String,
    pub total_cost: String,
}

/// Daily kWh and cost of one of the caller's accounts, as charged.
#[utoipa::path(get, path = "/api/v1/me/accounts/{id}/usage", tag = "tenant", security(("bearer" = [])),
    params(("id" = Uuid, Path), UsageQuery),
    responses((status = 200, body = UsageView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/me/accounts/{id}/usage")]
pub async fn usage(
    ctx: TenantContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    q: web::Query<UsageQuery>,
) -> Result<HttpResponse, ApiError> {
    let a = ctx.account(&state.db, AccountId::from(*id)).await?;
    Ok(HttpResponse::Ok().json(usage_of(&state, &a, q.days).await?))
}

/// An account's daily usage over the last `days` (default 30) local days of its site, for the
/// tenant's chart and the manager's account page alike.
pub(crate) async fn usage_of(
    state: &AppState,
    a: &Account,
    days: Option<u32>,
) -> Result<UsageView, ApiError> {
    let days = days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "days must be between 1 and 366",
        ));
    }
    let today = Utc::now()
        .with_timezone(&site_tz(&state.db, a).await?)
        .date_naive();
    let first = today
        .checked_sub_days(Days::new(u64::from(days - 1)))
        .unwrap_or(today);
    let fmt = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let rows = store::usage_history::daily_of_account(
        &state.db,
        a.organization_id,
        a.id,
        &fmt(first),
        &fmt(today),
    )
    .await?;
    let (mut total_wh, mut total_fen) = (0i64, 0i64);
    let mut out = Vec::new();
    for day in first.iter_days().take_while(|d| *d <= today) {
        let date = fmt(day);
        let (wh, fen) = rows
            .iter()
            .find(|r| r.period == date)
            .map_or((0, 0), |r| (r.energy_wh, r.cost_fen));
        total_wh += wh;
        total_fen += fen;
        out.push(DayUsageView {
            date,
            kwh: kwh(wh),
            cost: show(domain::Money::from_fen(fen)),
        });
    }
    Ok(UsageView {
        days: out,
        total_kwh: kwh(total_wh),
        total_cost: show(domain::Money::from_fen(total_fen)),
    })
}

/// The ledger of one of the caller's accounts, newest first.
#[utoipa::path(get, path = "/api/v1/me/accounts/{id}/ledger", tag = "tenant", security(("bearer" = [])),
    params(("id" = Uuid, Path), ListQuery),
    responses((status = 200, body = ListResponse<LedgerEntryView>),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/me/accounts/{id}/ledger")]
pub async fn ledger(
    ctx: TenantContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    page: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page.page()?;
    let a = ctx.account(&state.db, AccountId::from(*id)).await?;
    let paged = store::ledger::entries_of(&state.db, a.organization_id, a.id, page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::from_paged(paged, page, LedgerEntryView::from)))
}

/// What the tenant wants to be told (all on by default), and how.
#[allow(clippy::struct_excessive_bools)] // the switches, one per kind, as the JSON has them
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesView {
    /// Low-balance warnings and the daily reminder.
    pub low_balance: bool,
    /// Power cut and power restored.
    pub power_events: bool,
    /// A receipt for each payment.
    pub payment_receipts: bool,
    /// `zh`, `en` or `zh-en` (both, Chinese first); null: the deployment's default. On PUT,
    /// absent keeps it and `""` clears it.
    #[serde(default)]
    pub language: Option<String>,
    /// Where mail goes; null: no mail. On PUT, absent keeps it and `""` clears it.
    #[serde(default)]
    pub email: Option<String>,
    /// Channels (`sms`, `email`, `wechat`) per kind (`low_balance`, `power_events`,
    /// `payment_receipts`); a kind not listed goes by WeChat when bound (SMS otherwise) and by
    /// mail when an address is set. On PUT, absent keeps them.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub channels: Option<BTreeMap<String, Vec<String>>>,
    /// Whether a WeChat account is bound (read-only: ignored on PUT).
    #[serde(default)]
    pub wechat_bound: bool,
}

impl PreferencesView {
    fn of(p: Preferences, d: Delivery) -> Self {
        PreferencesView {
            low_balance: p.low_balance,
            power_events: p.power_events,
            payment_receipts: p.payment_receipts,
            language: d.language,
            email: d.email,
            channels: Some(d.channels),
            wechat_bound: d.wechat_openid.is_some(),
        }
    }
}

/// The caller's notification preferences.
#[utoipa::path(get, path = "/api/v1/me/preferences", tag = "tenant", security(("bearer" = [])),
    responses((status = 200, body = PreferencesView),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/me/preferences")]
pub async fn preferences(
    ctx: TenantContext,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = store::tenant_preference::get(&state.db, &ctx.phone).await?;
    let d = store::tenant_preference::delivery(&state.db, &ctx.phone).await?;
    Ok(HttpResponse::Ok().json(PreferencesView::of(p, d)))
}

/// Replace the caller's notification preferences (language, email, channels: when given).
#[utoipa::path(put, path = "/api/v1/me/preferences", tag = "tenant", security(("bearer" = [])),
    request_body = PreferencesView,
    responses((status = 200, body = PreferencesView),
        (status = 400, description = "`invalid_body`, `invalid_preferences`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
#[put("/me/preferences")]
pub async fn set_preferences(
    ctx: TenantContext,
    state: web::Data<AppState>,
    body: web::Json<PreferencesView>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut d = store::tenant_preference::delivery(&state.db, &ctx.phone).await?;
    let cleared = |v: String| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    if let Some(l) = body.language {
        d.language = cleared(l);
    }
    if let Some(e) = body.email {
        d.email = cleared(e);
    }
    if let Some(c) = body.channels {
        d.channels = c;
    }
    d.check()
        .map_err(|e| ApiError::bad_request("invalid_preferences", e))?;
    let p = Preferences {
        low_balance: body.low_balance,
        power_events: body.power_events,
        payment_receipts: body.payment_receipts,
    };
    let txn = state.db.begin().await?;
    let p = store::tenant_preference::set(&txn, &ctx.phone, p).await?;
    store::tenant_preference::set_delivery(&txn, &ctx.phone, &d).await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(PreferencesView::of(p, d)))
}
