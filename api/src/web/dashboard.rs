//! The manager's overview (`/`) and the accounts list (`/accounts`).
//!
//! Rules it keeps: every number comes from an organization-scoped store query of the signed-in
//! manager's organization; lists are paged like the REST API (at most 200 a page).

use actix_web::{get, web, HttpResponse};
use chrono::Utc;
use domain::Money;
use minijinja::context;
use serde::Deserialize;

use super::chart;
use super::i18n::text;
use super::page::WebError;
use super::query::{self, AccountFilter};
use super::session::Manager;

/// How many days the overview chart covers.
const CHART_DAYS: u32 = 30;
const PER_PAGE: u64 = 50;

#[get("/")]
pub async fn overview(m: Manager) -> Result<HttpResponse, WebError> {
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let cards = query::overview(&state.db, org).await?;
    let today = Utc::now().with_timezone(&query::china_tz()).date_naive();
    let since = Utc::now() - chrono::Duration::days(i64::from(CHART_DAYS));
    let sums = query::daily_money(&state.db, org, None, since).await?;
    let lang = m.web.lang;
    let chart = chart::daily_bars(
        &sums,
        today,
        CHART_DAYS,
        text(lang, "chart_30_days"),
        (text(lang, "chart_charges"), text(lang, "chart_topups")),
    )?;
    let (mut attention, _) =
        query::account_rows(&state.db, org, AccountFilter::Tripped, 1, 20).await?;
    let (alarmed, _) = query::account_rows(&state.db, org, AccountFilter::Alarmed, 1, 20).await?;
    attention.extend(alarmed);
    m.web.render(
        "overview.html",
        context! {
            stats => &cards,
            balance_total => Money::from_fen(cards.balance_total_fen).to_string(),
            chart => chart,
            attention => attention,
        },
    )
}

#[derive(Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    page: Option<u64>,
}

#[get("/accounts")]
pub async fn accounts(m: Manager, q: web::Query<ListQuery>) -> Result<HttpResponse, WebError> {
    let state = m.web.state()?.clone();
    let filter = AccountFilter::parse(q.state.as_deref());
    let page = q.page.unwrap_or(1).max(1);
    let (rows, total) =
        query::account_rows(&state.db, m.session.org_id, filter, page, PER_PAGE).await?;
    m.web.render(
        "accounts.html",
        context! {
            rows => rows,
            filter => filter.code(),
            page => page,
            total => total,
            has_next => page * PER_PAGE < total,
        },
    )
}
