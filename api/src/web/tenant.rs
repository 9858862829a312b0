//! The signed-in tenant's pages: `/t/me` (the phone's accounts, a home and a shop, to switch
//! between), `/t/me/{id}` (balance and power as on the door page, the 30-day usage chart, the
//! ledger, notification preferences), `/t/me/{id}/receipts/{entry}` (a printable receipt) and
//! `POST /t/me/preferences`.
//!
//! Rules it keeps: a tenant reaches only the accounts of their own tenant records, through
//! `TenantContext` exactly as `/api/v1/me/...` does (another id answers 404); the numbers come
//! from the same store functions as those endpoints (`usage_history::daily_of_account`,
//! `ledger::entries_of`, `tenant_preference`); signed out, every page sends the tenant to
//! `/t/login` and back.

use actix_web::{get, post, web, HttpResponse};
use chrono::{Days, Utc};
use minijinja::{context, Value};
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
use serde::Deserialize;
use store::entity::ledger_entry;
use store::tenant_preference::Preferences;
use store::{Account, AccountId, LedgerEntryId};

use super::account::local_time;
use super::i18n::text;
use super::page::{Web, WebError};
use super::tenant_chart::{self, Day};
use super::tenant_session::{current, mask_phone, sign_in_first};
use super::{door, query};
use crate::auth::TenantContext;
use crate::service::live_view::{live_view, power_of, site_tz};
use crate::startup::AppState;

/// Days the usage chart covers.
const CHART_DAYS: u64 = 30;
/// Ledger rows on the account page.
const LEDGER_ROWS: u64 = 50;

/// The phone's accounts as the switcher and the list show them.
async fn account_rows(state: &AppState, ctx: &TenantContext) -> Result<Vec<Value>, WebError> {
    let mut rows = Vec::new();
    for a in ctx.accounts(&state.db).await? {
        rows.push(row_of(state, &a).await?);
    }
    Ok(rows)
}

async fn row_of(state: &AppState, a: &Account) -> Result<Value, WebError> {
    let db = &state.db;
    let org = a.organization_id;
    let live = live_view(state, a).await?;
    let unit = store::unit::get(db, org, a.unit_id).await?;
    let building = store::building::get(db, org, unit.building_id).await?;
    let organization = store::organization::get_organization(db, org).await?.name;
    let kind = serde_json::to_value(unit.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok(context! {
        id => a.id.to_string(),
        account_no => &a.account_no,
        organization => organization,
        unit => format!("{} {}", building.name, unit.name),
        kind => kind,
        balance => live.balance.to_string(),
        negative => live.balance.is_negative(),
        power => power_of(&live.cc_state),
        closed => a.status == store::AccountStatus::Closed,
    })
}

#[get("/t/me")]
pub async fn accounts(web: Web) -> Result<HttpResponse, WebError> {
    let Some(ctx) = current(&web) else {
        return Ok(sign_in_first(&web));
    };
    let state = web.state()?.clone();
    let rows = account_rows(&state, &ctx).await?;
    web.render(
        "tenant_me.html",
        context! {
            accounts => rows,
            phone => mask_phone(&ctx.phone),
            body_class => "door",
        },
    )
}

/// Every day of the last [`CHART_DAYS`] in the site's time zone, with its kWh and cost.
async fn usage_days(state: &AppState, a: &Account) -> Result<Vec<Day>, WebError> {
    let today = Utc::now()
        .with_timezone(&site_tz(&state.db, a).await?)
        .date_naive();
    let first = today
        .checked_sub_days(Days::new(CHART_DAYS - 1))
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
    Ok(first
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|day| {
            let date = fmt(day);
            rows.iter()
                .find(|r| r.period == date)
                .map_or((day, 0, 0), |r| (day, r.energy_wh, r.cost_fen))
        })
        .collect())
}

fn kind_code(kind: store::LedgerKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Entries a tenant may want proof of: everything but the many small charges.
fn has_receipt(kind: &str) -> bool {
    !matches!(kind, "charge" | "opening")
}

#[derive(Deserialize)]
pub struct AccountQuery {
    saved: Option<String>,
    pref_error: Option<String>,
}

#[get("/t/me/{id}")]
pub async fn account(
    web: Web,
    path: web::Path<String>,
    q: web::Query<AccountQuery>,
) -> Result<HttpResponse, WebError> {
    let Some(ctx) = current(&web) else {
        return Ok(sign_in_first(&web));
    };
    let state = web.state()?.clone();
    let id = super::account::parse_account_id(&path)?;
    let a = ctx.account(&state.db, id).await?;
    let d = door::door_view(&state, &a).await?;
    let switcher = account_rows(&state, &ctx).await?;
    let days = usage_days(&state, &a).await?;
    let lang = web.lang;
    let chart = tenant_chart::usage_chart(
        &days,
        text(lang, "tenant_usage_chart"),
        (text(lang, "tenant_kwh"), text(lang, "tenant_cost")),
    )?;
    let (total_wh, total_fen) = days.iter().fold((0, 0), |(w, f), d| (w + d.1, f + d.2));
    let usage: Vec<Value> = days
        .iter()
        .rev()
        .filter(|d| d.1 != 0 || d.2 != 0)
        .map(|&(day, wh, fen)| {
            context! {
                date => day.format("%m-%d").to_string(),
                kwh => crate::routes::me::kwh(wh),
                cost => domain::Money::from_fen(fen).to_string(),
            }
        })
        .collect();
    let ledger: Vec<Value> = store::ledger::entries_of(
        &state.db,
        a.organization_id,
        a.id,
        store::Page::new(1, LEDGER_ROWS),
    )
    .await?
    .items
    .into_iter()
    .map(|e| {
        let kind = kind_code(e.kind);
        context! {
            id => e.id.0,
            at => local_time(e.created_at),
            receipt => has_receipt(&kind),
            kind => kind,
            amount => e.amount().to_string(),
            negative => e.amount().is_negative(),
            balance_after => e.balance_after().to_string(),
        }
    })
    .collect();
    let prefs = store::tenant_preference::get(&state.db, &ctx.phone).await?;
    let delivery = store::tenant_preference::delivery(&state.db, &ctx.phone).await?;
    let pref_errors = match q.pref_error.as_deref() {
        Some("email") => context! { email => "tenant_err_email" },
        _ => context! {},
    };
    web.render(
        "tenant_account.html",
        context! {
            id => a.id.to_string(),
            d => d,
            accounts => switcher,
            chart => chart,
            usage => usage,
            total_kwh => crate::routes::me::kwh(total_wh),
            total_cost => domain::Money::from_fen(total_fen).to_string(),
            ledger => ledger,
            prefs => context! {
                low_balance => prefs.low_balance,
                power_events => prefs.power_events,
                payment_receipts => prefs.payment_receipts,
                language => delivery.language.unwrap_or_default(),
                email => delivery.email.unwrap_or_default(),
            },
            pref_errors => pref_errors,
            saved => q.saved.is_some(),
            body_class => "door",
        },
    )
}

#[get("/t/me/{id}/receipts/{entry}")]
pub async fn receipt(web: Web, path: web::Path<(String, i64)>) -> Result<HttpResponse, WebError> {
    let Some(ctx) = current(&web) else {
        return Ok(sign_in_first(&web));
    };
    let state = web.state()?.clone();
    let (id, entry) = path.into_inner();
    let a = ctx
        .account(&state.db, super::account::parse_account_id(&id)?)
        .await?;
    let e = entry_of(&state, &a, LedgerEntryId(entry))
        .await?
        .filter(|e| has_receipt(&kind_code(e.kind)))
        .ok_or(WebError::NotFound)?;
    let org = store::organization::get_organization(&state.db, a.organization_id).await?;
    let unit = store::unit::get(&state.db, a.organization_id, a.unit_id).await?;
    let building = store::building::get(&state.db, a.organization_id, unit.building_id).await?;
    web.render(
        "tenant_receipt.html",
        context! {
            id => a.id.to_string(),
            organization => org.name,
            account_no => &a.account_no,
            unit => format!("{} {}", building.name, unit.name),
            no => e.id.0,
            kind => kind_code(e.kind),
            amount => e.amount().to_string(),
            balance_after => e.balance_after().to_string(),
            at => e
                .created_at
                .with_timezone(&query::china_tz())
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            memo => e.memo.clone().unwrap_or_default(),
            body_class => "door",
        },
    )
}

/// One entry of the account (of its organization), if it exists.
async fn entry_of(
    state: &AppState,
    a: &Account,
    entry: LedgerEntryId,
) -> Result<Option<store::LedgerEntry>, WebError> {
    Ok(ledger_entry::Entity::find_by_id(entry)
        .filter(ledger_entry::Column::OrganizationId.eq(a.organization_id))
        .filter(ledger_entry::Column::AccountId.eq(a.id))
        .one(&state.db)
        .await?)
}

#[derive(Deserialize)]
pub struct PreferencesForm {
    #[serde(default)]
    csrf: String,
    /// The account page to go back to.
    #[serde(default)]
    back: String,
    low_balance: Option<String>,
    power_events: Option<String>,
    payment_receipts: Option<String>,
    /// `zh`, `en`, `zh-en`, or empty for the deployment's default; absent keeps it.
    language: Option<String>,
    /// Where receipts and notices are also mailed; empty clears it, absent keeps it.
    email: Option<String>,
}

/// Saves the phone's notification preferences (an unticked box is not sent: off).
#[post("/t/me/preferences")]
pub async fn save_preferences(
    web: Web,
    form: web::Form<PreferencesForm>,
) -> Result<HttpResponse, WebError> {
    web.check_csrf(&form.csrf)?;
    let Some(ctx) = current(&web) else {
        return Ok(web.redirect("/t/login"));
    };
    let state = web.state()?.clone();
    // Back to the tenant's own account page only.
    let page = match form.back.parse::<uuid::Uuid>() {
        Ok(id) if ctx.account(&state.db, AccountId::from(id)).await.is_ok() => {
            Some(format!("/t/me/{id}"))
        }
        _ => None,
    };
    // How to be reached: checked as `PUT /api/v1/me/preferences` checks it.
    let mut d = store::tenant_preference::delivery(&state.db, &ctx.phone).await?;
    let cleared = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    if let Some(l) = &form.language {
        d.language = cleared(l);
    }
    if let Some(e) = &form.email {
        d.email = cleared(e);
    }
    if d.check().is_err() {
        // The language is a fixed choice: what fails is the address the tenant typed.
        return Ok(web.redirect(&match page {
            Some(p) => format!("{p}?pref_error=email#preferences"),
            None => "/t/me".to_owned(),
        }));
    }
    let txn = sea_orm::TransactionTrait::begin(&state.db).await?;
    store::tenant_preference::set(
        &txn,
        &ctx.phone,
        Preferences {
            low_balance: form.low_balance.is_some(),
            power_events: form.power_events.is_some(),
            payment_receipts: form.payment_receipts.is_some(),
        },
    )
    .await?;
    store::tenant_preference::set_delivery(&txn, &ctx.phone, &d).await?;
    txn.commit().await?;
    Ok(web.redirect(&match page {
        Some(p) => format!("{p}?saved=1#preferences"),
        None => "/t/me".to_owned(),
    }))
}

/// The link to the signed-in tenant's own page of this door's account, if they own it.
pub async fn own_page(web: &Web, state: &AppState, a: &Account) -> Option<String> {
    let ctx = current(web)?;
    ctx.account(&state.db, a.id)
        .await
        .ok()
        .map(|a| format!("/t/me/{}", a.id))
}
