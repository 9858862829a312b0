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
/// How many rows each overview list shows.
const LIST_ROWS: u64 = 20;

/// Meters whose gateway is offline, with their gateway and unit, at most [`LIST_ROWS`].
async fn offline_meters(
    db: &sea_orm::DatabaseConnection,
    org: store::OrgId,
) -> Result<Vec<minijinja::Value>, WebError> {
    use sea_orm::{
        ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
    };
    use store::entity::{gateway, meter, unit};
    let gateways: std::collections::HashMap<_, _> = gateway::Entity::find()
        .filter(gateway::Column::OrganizationId.eq(org))
        .filter(gateway::Column::Online.eq(false))
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.id, g))
        .collect();
    let meters = meter::Entity::find()
        .filter(meter::Column::OrganizationId.eq(org))
        .filter(meter::Column::GatewayId.is_in(gateways.keys().copied().collect::<Vec<_>>()))
        .order_by_asc(meter::Column::WireId)
        .limit(LIST_ROWS)
        .all(db)
        .await?;
    let units: std::collections::HashMap<_, _> = unit::Entity::find()
        .filter(unit::Column::OrganizationId.eq(org))
        .filter(unit::Column::Id.is_in(meters.iter().filter_map(|m| m.unit_id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    Ok(meters
        .into_iter()
        .map(|m| {
            let g = gateways.get(&m.gateway_id);
            context! {
                meter => m.wire_id,
                gateway => g.map(|g| g.gateway_id.clone()).unwrap_or_default(),
                last_seen => g.and_then(|g| g.last_seen_at).map(super::account::local_time),
                unit => m.unit_id.and_then(|u| units.get(&u).cloned()).unwrap_or_default(),
            }
        })
        .collect())
}

/// The organization's open work orders, oldest first, at most [`LIST_ROWS`].
async fn open_work_orders(
    db: &sea_orm::DatabaseConnection,
    org: store::OrgId,
) -> Result<Vec<minijinja::Value>, WebError> {
    let orders = store::work_order::list_open(db, org, None).await?;
    let take = usize::try_from(LIST_ROWS).unwrap_or(usize::MAX);
    Ok(orders
        .into_iter()
        .take(take)
        .map(|o| {
            context! {
                id => o.id.to_string(),
                kind => o.kind,
                title => o.title,
                status => serde_json::to_value(o.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                at => super::account::local_time(o.created_at),
                account_id => o.account_id.map(|a| a.to_string()),
            }
        })
        .collect())
}

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
    let (tripped, _) =
        query::account_rows(&state.db, org, AccountFilter::Tripped, 1, LIST_ROWS).await?;
    let (alarmed, _) =
        query::account_rows(&state.db, org, AccountFilter::Alarmed, 1, LIST_ROWS).await?;
    let offline = offline_meters(&state.db, org).await?;
    let orders = open_work_orders(&state.db, org).await?;
    m.web.render(
        "overview.html",
        context! {
            stats => &cards,
            balance_total => Money::from_fen(cards.balance_total_fen).to_string(),
            chart => chart,
            tripped => tripped,
            alarmed => alarmed,
            offline => offline,
            work_orders => orders,
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
