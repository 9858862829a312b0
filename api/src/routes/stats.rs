//! `GET /api/v1/stats/overview`: the organization's figures now, today and this month
//! (days and months are China's, UTC+8, as the organization's sites are).

use actix_web::{get, web, HttpResponse};
use chrono::{Datelike as _, Duration, NaiveTime, TimeZone as _, Utc};
use domain::Money;
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use super::me::kwh;
use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::money::show;
use crate::startup::AppState;

/// A meter without a good reading for this long counts as offline.
const METER_STALE_MINUTES: i64 = 60;

/// Money in, energy used and command outcomes over one period.
#[derive(Serialize, ToSchema)]
pub struct PeriodFigures {
    /// Top-ups credited (online and counter), yuan.
    pub topups: String,
    pub topups_count: i64,
    pub consumption_kwh: String,
    /// Succeeded / finished commands issued in the period, `0.0000`–`1.0000`; `null` when none
    /// finished.
    pub command_success_rate: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Overview {
    pub accounts_total: i64,
    pub accounts_alarmed: i64,
    pub accounts_tripped: i64,
    pub accounts_protected: i64,
    pub meters_total: i64,
    /// No good reading in the last hour.
    pub meters_offline: i64,
    pub gateways_total: i64,
    pub gateways_offline: i64,
    /// Sum of open accounts' balances, yuan.
    pub balance_total: String,
    pub topups_today: String,
    pub consumption_today_kwh: String,
    pub command_success_rate: Option<String>,
    pub today: PeriodFigures,
    pub month: PeriodFigures,
}

fn rate(succeeded: i64, finished: i64) -> Option<String> {
    (finished > 0).then(|| {
        let mut r = (Decimal::from(succeeded) / Decimal::from(finished)).round_dp(4);
        r.rescale(4);
        r.to_string()
    })
}

/// The organization's overview figures.
#[utoipa::path(get, path = "/api/v1/stats/overview", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Overview),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/stats/overview")]
pub async fn overview(
    ctx: OrgContext,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ_MONEY)?;
    let db = &state.db;
    let now = Utc::now();
    let tz = chrono_tz::Asia::Shanghai;
    let local = now.with_timezone(&tz).date_naive();
    let month_start = local.with_day(1).unwrap_or(local);
    let utc_of = |d: chrono::NaiveDate| {
        tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
            .earliest()
            .map_or(now, |t| t.with_timezone(&Utc))
    };
    let o = store::stats::overview(db, ctx.org_id, now - Duration::minutes(METER_STALE_MINUTES))
        .await?;
    let mut periods = Vec::new();
    for (start, days) in [
        (local, vec![local.format("%Y-%m-%d").to_string()]),
        (month_start, vec![local.format("%Y-%m").to_string()]),
    ] {
        let a = store::stats::activity(db, ctx.org_id, utc_of(start), now + Duration::seconds(1))
            .await?;
        let wh = store::usage_history::energy_of_org(db, ctx.org_id, &days).await?;
        periods.push(PeriodFigures {
            topups: show(Money::from_fen(a.topups_fen)),
            topups_count: a.topups_count,
            consumption_kwh: kwh(wh),
            command_success_rate: rate(a.commands_succeeded, a.commands_final),
        });
    }
    let month = periods
        .pop()
        .ok_or_else(|| anyhow::anyhow!("two periods"))?;
    let today = periods
        .pop()
        .ok_or_else(|| anyhow::anyhow!("two periods"))?;
    Ok(HttpResponse::Ok().json(Overview {
        accounts_total: o.accounts_total,
        accounts_alarmed: o.accounts_alarmed,
        accounts_tripped: o.accounts_tripped,
        accounts_protected: o.accounts_protected,
        meters_total: o.meters_total,
        meters_offline: o.meters_offline,
        gateways_total: o.gateways_total,
        gateways_offline: o.gateways_offline,
        balance_total: show(Money::from_fen(o.balance_total_fen)),
        topups_today: today.topups.clone(),
        consumption_today_kwh: today.consumption_kwh.clone(),
        command_success_rate: today.command_success_rate.clone(),
        today,
        month,
    }))
}
