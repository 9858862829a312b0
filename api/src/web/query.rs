//! Read queries the pages need beyond the store's list/get functions: overview counts, account
//! rows with their unit, building and tenant names, unit tiles, commands, last readings, daily
//! sums for charts.
//!
//! Rules it keeps: every query takes `org` first and filters on it (the store's rule); sums of
//! money are summed in integer fen by the database and cast to BIGINT so both backends answer
//! an integer; days are China Standard Time (UTC+8, no daylight saving), the zone of every site
//! we serve today.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Offset as _, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use store::entity::{
    account, building, command, gateway, ledger_entry, meter, reading, tenant, unit,
};
use store::{
    Account, AccountId, AccountStatus, BuildingId, GatewayId, MeterId, OrgId, StoreError, UnitId,
};

/// UTC+8, in seconds.
const CHINA_OFFSET_SECS: i32 = 8 * 3600;

pub fn china_tz() -> chrono::FixedOffset {
    // 8 hours is within ±24 h, so the offset always exists.
    chrono::FixedOffset::east_opt(CHINA_OFFSET_SECS).unwrap_or_else(|| Utc.fix())
}

/// The overview cards.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Overview {
    pub accounts: u64,
    pub alarmed: u64,
    pub tripped: u64,
    pub protected: u64,
    pub balance_total_fen: i64,
    pub offline_meters: u64,
}

pub const ALARM_STATES: [&str; 2] = ["alarmed", "trip_pending"];
pub const TRIPPED_STATES: [&str; 2] = ["tripped", "force_tripped"];

fn open_accounts(org: OrgId) -> sea_orm::Select<account::Entity> {
    account::Entity::find()
        .filter(account::Column::OrganizationId.eq(org))
        .filter(account::Column::Status.eq(AccountStatus::Open))
}

pub async fn overview(conn: &impl ConnectionTrait, org: OrgId) -> Result<Overview, StoreError> {
    let accounts = open_accounts(org).count(conn).await?;
    let alarmed = open_accounts(org)
        .filter(account::Column::CcState.is_in(ALARM_STATES))
        .count(conn)
        .await?;
    let tripped = open_accounts(org)
        .filter(account::Column::CcState.is_in(TRIPPED_STATES))
        .count(conn)
        .await?;
    let protected = open_accounts(org)
        .filter(account::Column::Protected.eq(true))
        .count(conn)
        .await?;
    let balance_total_fen: Option<i64> = open_accounts(org)
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(balance_fen), 0) AS BIGINT)"),
            "total",
        )
        .into_tuple()
        .one(conn)
        .await?;
    let offline = offline_gateways(conn, org).await?;
    let offline_meters = meter::Entity::find()
        .filter(meter::Column::OrganizationId.eq(org))
        .filter(meter::Column::GatewayId.is_in(offline))
        .count(conn)
        .await?;
    Ok(Overview {
        accounts,
        alarmed,
        tripped,
        protected,
        balance_total_fen: balance_total_fen.unwrap_or(0),
        offline_meters,
    })
}

async fn offline_gateways(
    conn: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Vec<GatewayId>, StoreError> {
    Ok(gateway::Entity::find()
        .filter(gateway::Column::OrganizationId.eq(org))
        .filter(gateway::Column::Online.eq(false))
        .select_only()
        .column(gateway::Column::Id)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Which accounts a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountFilter {
    All,
    Alarmed,
    Tripped,
    Protected,
}

impl AccountFilter {
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("alarmed") => Self::Alarmed,
            Some("tripped") => Self::Tripped,
            Some("protected") => Self::Protected,
            _ => Self::All,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Alarmed => "alarmed",
            Self::Tripped => "tripped",
            Self::Protected => "protected",
        }
    }
}

/// An account with the names a person recognises it by.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountRow {
    pub id: String,
    pub account_no: String,
    pub unit: String,
    pub building: String,
    pub tenant: String,
    pub balance: String,
    pub negative: bool,
    /// The display state (`normal`, `alarmed`, `tripped`, ...), a key of `state_*` words.
    pub state: &'static str,
    pub protected: bool,
}

/// A page of open accounts matching `filter`, by account number.
pub async fn account_rows(
    conn: &impl ConnectionTrait,
    org: OrgId,
    filter: AccountFilter,
    page: u64,
    per_page: u64,
) -> Result<(Vec<AccountRow>, u64), StoreError> {
    let mut select = open_accounts(org);
    select = match filter {
        AccountFilter::All => select,
        AccountFilter::Alarmed => select.filter(account::Column::CcState.is_in(ALARM_STATES)),
        AccountFilter::Tripped => select.filter(account::Column::CcState.is_in(TRIPPED_STATES)),
        AccountFilter::Protected => select.filter(account::Column::Protected.eq(true)),
    };
    let paginator = select
        .order_by_asc(account::Column::AccountNo)
        .paginate(conn, per_page.clamp(1, 200));
    let total = paginator.num_items().await?;
    let accounts = paginator.fetch_page(page.max(1) - 1).await?;
    Ok((with_names(conn, org, accounts).await?, total))
}

/// Rows for the given accounts, in the same order.
pub async fn with_names(
    conn: &impl ConnectionTrait,
    org: OrgId,
    accounts: Vec<Account>,
) -> Result<Vec<AccountRow>, StoreError> {
    let unit_ids: HashSet<UnitId> = accounts.iter().map(|a| a.unit_id).collect();
    let units: HashMap<UnitId, store::Unit> = unit::Entity::find()
        .filter(unit::Column::OrganizationId.eq(org))
        .filter(unit::Column::Id.is_in(unit_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let building_ids: HashSet<BuildingId> = units.values().map(|u| u.building_id).collect();
    let buildings: HashMap<BuildingId, String> = building::Entity::find()
        .filter(building::Column::OrganizationId.eq(org))
        .filter(building::Column::Id.is_in(building_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|b| (b.id, b.name))
        .collect();
    let tenant_ids: HashSet<_> = accounts.iter().filter_map(|a| a.tenant_id).collect();
    let tenants: HashMap<_, String> = tenant::Entity::find()
        .filter(tenant::Column::OrganizationId.eq(org))
        .filter(tenant::Column::Id.is_in(tenant_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    Ok(accounts
        .into_iter()
        .map(|a| {
            let unit = units.get(&a.unit_id);
            AccountRow {
                id: a.id.to_string(),
                account_no: a.account_no.clone(),
                unit: unit.map(|u| u.name.clone()).unwrap_or_default(),
                building: unit
                    .and_then(|u| buildings.get(&u.building_id).cloned())
                    .unwrap_or_default(),
                tenant: a
                    .tenant_id
                    .and_then(|t| tenants.get(&t).cloned())
                    .unwrap_or_default(),
                balance: a.balance().to_string(),
                negative: a.balance().is_negative(),
                state: display_state(&a, false),
                protected: a.protected,
            }
        })
        .collect())
}

/// The state a person sees: closed, then the charge-control state, offline when its meters'
/// gateway is offline and nothing worse is going on.
pub fn display_state(a: &Account, offline: bool) -> &'static str {
    if a.status == AccountStatus::Closed {
        return "closed";
    }
    match a.cc_state.as_str() {
        "tripped" => "tripped",
        "force_tripped" => "force_tripped",
        "trip_pending" => "trip_pending",
        "alarmed" => "alarmed",
        "restoring" => "restoring",
        "force_closed" => "force_closed",
        _ if offline => "offline",
        _ if a.protected => "protected",
        _ => "normal",
    }
}

/// The colour class of a board tile: tripped, alarm, offline, protected, normal, vacant.
pub fn tile_class(state: &str) -> &'static str {
    match state {
        "tripped" | "force_tripped" | "restoring" => "tripped",
        "alarmed" | "trip_pending" => "alarm",
        "offline" => "offline",
        "protected" => "protected",
        "closed" | "vacant" => "vacant",
        _ => "normal",
    }
}

/// One unit on the status board.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Tile {
    pub unit: String,
    pub account_id: Option<String>,
    pub account_no: Option<String>,
    pub balance: Option<String>,
    pub state: &'static str,
    pub class: &'static str,
}

/// The units of a building with their open account and state.
pub async fn tiles(
    conn: &impl ConnectionTrait,
    org: OrgId,
    building_id: BuildingId,
) -> Result<Vec<Tile>, StoreError> {
    let units = unit::Entity::find()
        .filter(unit::Column::OrganizationId.eq(org))
        .filter(unit::Column::BuildingId.eq(building_id))
        .order_by_asc(unit::Column::Name)
        .all(conn)
        .await?;
    let ids: Vec<UnitId> = units.iter().map(|u| u.id).collect();
    let accounts: HashMap<UnitId, Account> = open_accounts(org)
        .filter(account::Column::UnitId.is_in(ids.clone()))
        .all(conn)
        .await?
        .into_iter()
        .map(|a| (a.unit_id, a))
        .collect();
    let offline: HashSet<GatewayId> = offline_gateways(conn, org).await?.into_iter().collect();
    let offline_units: HashSet<UnitId> = meter::Entity::find()
        .filter(meter::Column::OrganizationId.eq(org))
        .filter(meter::Column::UnitId.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .filter(|m| offline.contains(&m.gateway_id))
        .filter_map(|m| m.unit_id)
        .collect();
    Ok(units
        .into_iter()
        .map(|u| {
            let account = accounts.get(&u.id);
            let state = account.map_or("vacant", |a| {
                display_state(a, offline_units.contains(&u.id))
            });
            Tile {
                unit: u.name,
                account_id: account.map(|a| a.id.to_string()),
                account_no: account.map(|a| a.account_no.clone()),
                balance: account.map(|a| a.balance().to_string()),
                state,
                class: tile_class(state),
            }
        })
        .collect())
}

/// The meters of a unit.
pub async fn meters_of_unit(
    conn: &impl ConnectionTrait,
    org: OrgId,
    unit_id: UnitId,
) -> Result<Vec<store::Meter>, StoreError> {
    Ok(meter::Entity::find()
        .filter(meter::Column::OrganizationId.eq(org))
        .filter(meter::Column::UnitId.eq(unit_id))
        .all(conn)
        .await?)
}

/// The latest commands to the given meters, newest first.
pub async fn commands_of(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meters: &[MeterId],
    limit: u64,
) -> Result<Vec<command::Model>, StoreError> {
    Ok(command::Entity::find()
        .filter(command::Column::OrganizationId.eq(org))
        .filter(command::Column::MeterId.is_in(meters.to_vec()))
        .order_by_desc(command::Column::IssuedAt)
        .limit(limit)
        .all(conn)
        .await?)
}

/// When the given meters were last read successfully.
pub async fn last_reading_at(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meters: &[MeterId],
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(reading::Entity::find()
        .filter(reading::Column::OrganizationId.eq(org))
        .filter(reading::Column::MeterId.is_in(meters.to_vec()))
        .filter(reading::Column::Error.is_null())
        .select_only()
        .column(reading::Column::Ts)
        .order_by_desc(reading::Column::Ts)
        .into_tuple()
        .one(conn)
        .await?)
}

#[derive(Debug, FromQueryResult)]
struct DaySum {
    day: String,
    kind: String,
    total: i64,
}

/// Daily sums of charges (as positive fen) and top-ups from `since`, by China date; of one
/// account or of the whole organization.
pub async fn daily_money(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: Option<AccountId>,
    since: DateTime<Utc>,
) -> Result<BTreeMap<NaiveDate, (i64, i64)>, StoreError> {
    let backend = conn.get_database_backend();
    let day = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "to_char(created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')"
        }
        _ => "strftime('%Y-%m-%d', created_at, '+8 hours')",
    };
    let table = sea_orm::EntityName::table_name(&ledger_entry::Entity);
    let account_filter = if account.is_some() {
        " AND account_id = $3"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {day} AS day, kind, CAST(SUM(amount_fen) AS BIGINT) AS total FROM {table} \
         WHERE organization_id = $1 AND created_at >= $2 AND kind IN ('charge', 'topup'){account_filter} \
         GROUP BY 1, 2"
    );
    let mut values: Vec<sea_orm::Value> = vec![org.into(), since.into()];
    if let Some(account) = account {
        values.push(account.into());
    }
    let rows = DaySum::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(conn)
        .await?;
    let mut out = BTreeMap::new();
    for row in rows {
        let Ok(date) = NaiveDate::parse_from_str(&row.day, "%Y-%m-%d") else {
            continue;
        };
        let entry: &mut (i64, i64) = out.entry(date).or_default();
        match row.kind.as_str() {
            "charge" => entry.0 += -row.total,
            _ => entry.1 += row.total,
        }
    }
    Ok(out)
}
