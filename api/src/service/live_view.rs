//! What a tenant sees of one account right now: the worker's live snapshot when the cache has
//! it, else the same fields read from the database. The cache is only a cache: a miss, an
//! error or a snapshot of another organization falls back to the database.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use domain::{Energy, Money};
use sea_orm::ConnectionTrait;
use store::{Account, AccountStatus, StoreError};

use crate::startup::AppState;

/// The live fields of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveView {
    pub balance: Money,
    pub cc_state: String,
    pub relay: Option<String>,
    pub last_reading_at: Option<DateTime<Utc>>,
    pub today_kwh: Energy,
    pub today_cost: Money,
    /// `cache` or `database`.
    pub source: &'static str,
}

/// The power state a tenant understands, from the charge-control state: `on`, `soon_off`,
/// `off` or `restoring` (the same words as the web door page).
pub fn power_of(cc_state: &str) -> &'static str {
    match cc_state {
        "tripped" | "force_tripped" => "off",
        "restoring" => "restoring",
        "alarmed" | "trip_pending" => "soon_off",
        _ => "on",
    }
}

/// The site's time zone of an account (Asia/Shanghai when unknown).
pub async fn site_tz(conn: &impl ConnectionTrait, a: &Account) -> Result<Tz, StoreError> {
    let org = a.organization_id;
    let unit = store::unit::get(conn, org, a.unit_id).await?;
    let building = store::building::get(conn, org, unit.building_id).await?;
    let site = store::site::get(conn, org, building.site_id).await?;
    Ok(site.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai))
}

/// The account's live view. A closed account is read from the database (the worker no
/// longer writes its snapshot).
pub async fn live_view(state: &AppState, a: &Account) -> Result<LiveView, StoreError> {
    if a.status == AccountStatus::Open {
        match state.live.get(a.id).await {
            Ok(Some(s)) if s.organization_id == a.organization_id => {
                return Ok(LiveView {
                    balance: s.balance,
                    cc_state: s.cc_state,
                    relay: s.relay,
                    last_reading_at: s.last_reading_at,
                    today_kwh: s.today_kwh,
                    today_cost: s.today_cost,
                    source: "cache",
                });
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "live cache unavailable; reading the database"),
        }
    }
    from_database(&state.db, a).await
}

async fn from_database(conn: &impl ConnectionTrait, a: &Account) -> Result<LiveView, StoreError> {
    let org = a.organization_id;
    let relay = store::account::last_relay(conn, org, a.unit_id).await?;
    let last_reading_at = last_reading_at(conn, a).await?;
    let today = Utc::now()
        .with_timezone(&site_tz(conn, a).await?)
        .format("%Y-%m-%d")
        .to_string();
    let (wh, fen) = store::daily::usage_of_account(conn, org, a.id, &today).await?;
    Ok(LiveView {
        balance: a.balance(),
        cc_state: a.cc_state.clone(),
        relay: relay.map(|(r, _)| r),
        last_reading_at,
        today_kwh: Energy::from_wh(wh),
        today_cost: Money::from_fen(fen),
        source: "database",
    })
}

/// The newest reading time over the meters of the account's unit.
async fn last_reading_at(
    conn: &impl ConnectionTrait,
    a: &Account,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let org = a.organization_id;
    let filter = store::meter::MeterFilter {
        unit_id: Some(a.unit_id),
        ..Default::default()
    };
    let meters = store::meter::list_filtered(conn, org, &filter, store::Page::new(1, 50)).await?;
    let mut newest = None;
    for m in meters.items {
        if let Some(r) = store::meter::last_reading(conn, org, m.id).await? {
            newest = newest.max(Some(r.ts));
        }
    }
    Ok(newest)
}
