//! The account page (`/accounts/{id}`): balance, state, ledger, counter receipts, daily charges
//! and kWh charts, commands with their state, and the forms: counter payment
//! (`POST /accounts/{id}/counter`, see [`super::counter`]), reversal (冲正) and adjustment
//! (see [`super::desk`]), trip / close / protect (`POST /accounts/{id}/control`, see
//! [`super::control`]).
//!
//! Rules it keeps: another organization's account answers 404; the money forms are shown only
//! to roles that may take money (adjustments to org admins), and carry a one-time token so a
//! double submit posts once.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use minijinja::{context, Value};
use serde::Deserialize;
use store::{AccountId, AccountStatus, OrgId};

use super::i18n::{text, Lang};
use super::page::{random_token, WebError};
use super::query;
use super::session::Manager;
use super::{chart, control, counter, desk};

const LEDGER_ROWS: u64 = 50;

/// A time as a manager reads it: China time, to the minute.
pub fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&query::china_tz())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

pub fn parse_account_id(raw: &str) -> Result<AccountId, WebError> {
    raw.parse::<uuid::Uuid>()
        .map(AccountId::from)
        .map_err(|_| WebError::NotFound)
}

#[derive(Deserialize)]
pub struct AccountQuery {
    receipt: Option<String>,
    done: Option<String>,
}

/// What the account page's forms show again after a refused post (all empty at first).
#[derive(Default, serde::Serialize)]
pub struct Refill {
    pub amount: String,
    pub memo: String,
    pub method: String,
    pub reason: String,
    pub adj_amount: String,
    pub adj_direction: String,
    pub adj_reason: String,
    pub rev_receipt: String,
    pub rev_reason: String,
    pub close_reading: String,
    pub close_settlement: String,
    pub close_note: String,
}

#[get("/accounts/{id}")]
pub async fn page(
    m: Manager,
    path: web::Path<String>,
    q: web::Query<AccountQuery>,
) -> Result<HttpResponse, WebError> {
    let id = parse_account_id(&path)?;
    let flash = match q.receipt.as_deref().map(str::parse::<uuid::Uuid>) {
        Some(Ok(receipt)) => counter::flash(&m, id, receipt).await?,
        _ => q
            .done
            .as_deref()
            .and_then(|d| control::flash(m.web.lang, d))
            .map(|f| (f, None)),
    };
    render(
        &m,
        id,
        StatusCode::OK,
        flash,
        Refill::default(),
        context! {},
    )
    .await
}

/// Draws the account page; `form` and `errors` refill the counter form after a failed post.
pub async fn render(
    m: &Manager,
    id: AccountId,
    status: StatusCode,
    flash: Option<(String, Option<String>)>,
    form: Refill,
    errors: Value,
) -> Result<HttpResponse, WebError> {
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let account = store::account::get(&state.db, org, id).await?;
    let unit = store::unit::get(&state.db, org, account.unit_id).await?;
    let building = store::building::get(&state.db, org, unit.building_id).await?;
    let site = store::site::get(&state.db, org, building.site_id).await?;
    let meters = query::meters_of_unit(&state.db, org, unit.id).await?;
    let meter_ids: Vec<_> = meters.iter().map(|m| m.id).collect();
    let wire: BTreeMap<_, _> = meters.iter().map(|m| (m.id, m.wire_id.clone())).collect();
    let last_reading = query::last_reading_at(&state.db, org, &meter_ids)
        .await?
        .map(local_time);
    let commands: Vec<Value> = query::commands_of(&state.db, org, &meter_ids, 20)
        .await?
        .into_iter()
        .map(|c| {
            context! {
                at => local_time(c.issued_at),
                meter => wire.get(&c.meter_id).cloned().unwrap_or_default(),
                seq => c.seq,
                action => c.action,
                state => c.state.as_str(),
                detail => c.detail.unwrap_or_default(),
            }
        })
        .collect();
    let ledger: Vec<Value> =
        store::ledger::entries_of(&state.db, org, id, store::Page::new(1, LEDGER_ROWS))
            .await?
            .items
            .into_iter()
            .map(|e| {
                context! {
                    at => local_time(e.created_at),
                    kind => serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                    amount => e.amount().to_string(),
                    negative => e.amount().is_negative(),
                    balance_after => e.balance_after().to_string(),
                    memo => e.memo.unwrap_or_default(),
                }
            })
            .collect();
    let today = Utc::now().with_timezone(&query::china_tz()).date_naive();
    let sums = query::daily_money(
        &state.db,
        org,
        Some(id),
        Utc::now() - chrono::Duration::days(30),
    )
    .await?;
    let lang = m.web.lang;
    let chart = chart::daily_bars(
        &sums,
        today,
        30,
        text(lang, "usage_chart"),
        (text(lang, "chart_charges"), text(lang, "chart_topups")),
    )?;
    let usage = usage_chart(&state.db, org, id, today, lang).await?;
    let receipts = desk::receipts_of(&state.db, org, id, today).await?;
    let protect_reason = account.protect_reason.clone();
    let open = account.status == AccountStatus::Open;
    let row = query::with_names(&state.db, org, vec![account])
        .await?
        .pop()
        .ok_or(WebError::NotFound)?;
    m.web.render_status(
        status,
        "account.html",
        context! {
            a => row,
            site => site.name,
            protect_reason => protect_reason,
            last_reading => last_reading,
            commands => commands,
            ledger => ledger,
            chart => chart,
            usage => usage,
            receipts => receipts,
            may_act => m.session.may_act(),
            may_adjust => m.session.is_admin(),
            open => open,
            flash => flash.as_ref().map(|f| f.0.clone()),
            flash_receipt => flash.and_then(|f| f.1),
            payment_token => random_token(),
            form => Value::from_serialize(&form),
            errors => errors,
        },
    )
}

/// The account's kWh per day over the last 30 days, from the rated usage periods.
async fn usage_chart(
    db: &sea_orm::DatabaseConnection,
    org: OrgId,
    id: AccountId,
    today: chrono::NaiveDate,
    lang: Lang,
) -> Result<String, WebError> {
    const DAYS: u32 = 30;
    let first = today - chrono::Duration::days(i64::from(DAYS) - 1);
    let fmt = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let wh: BTreeMap<_, _> =
        store::usage_history::daily_of_account(db, org, id, &fmt(first), &fmt(today))
            .await?
            .into_iter()
            .filter_map(|d| {
                chrono::NaiveDate::parse_from_str(&d.period, "%Y-%m-%d")
                    .ok()
                    .map(|day| (day, d.energy_wh))
            })
            .collect();
    Ok(chart::daily_energy(
        &wh,
        today,
        DAYS,
        text(lang, "usage_kwh_chart"),
    )?)
}
