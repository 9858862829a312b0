//! Usage and balance per period for charts and reports: each meter's consumption and its cost
//! per local day (`YYYY-MM-DD`) and month (`YYYY-MM`) of its site, added as readings are rated
//! (in the rating transaction), and each account's opening and closing balance per period,
//! frozen once from the ledger (so a freeze run twice writes the same numbers once).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect, Set,
    Statement,
};

use crate::entity::{balance_freeze, ledger_entry, usage_period};
use crate::{AccountId, MeterId, OrgId, StoreError};

/// Adds consumption and cost to a meter's period.
pub async fn add_usage(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter: MeterId,
    account: Option<AccountId>,
    period: &str,
    energy_wh: i64,
    cost_fen: i64,
) -> Result<(), StoreError> {
    let now = Utc::now();
    let row = usage_period::ActiveModel {
        organization_id: Set(org),
        meter_id: Set(meter),
        account_id: Set(account),
        period: Set(period.to_owned()),
        energy_wh: Set(energy_wh),
        cost_fen: Set(cost_fen),
        updated_at: Set(now),
        ..Default::default()
    };
    usage_period::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([usage_period::Column::MeterId, usage_period::Column::Period])
                .value(
                    usage_period::Column::EnergyWh,
                    Expr::col((usage_period::Entity, usage_period::Column::EnergyWh))
                        .add(energy_wh),
                )
                .value(
                    usage_period::Column::CostFen,
                    Expr::col((usage_period::Entity, usage_period::Column::CostFen)).add(cost_fen),
                )
                .value(usage_period::Column::UpdatedAt, Expr::value(now))
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// One addition of [`add_usage_many`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageAdd {
    pub org: OrgId,
    pub meter: MeterId,
    pub account: Option<AccountId>,
    pub period: String,
    pub energy_wh: i64,
    pub cost_fen: i64,
}

/// [`add_usage`] for many meters and periods in multi-row upserts. Each `(meter, period)` may
/// appear once (PostgreSQL refuses to update a row twice in one statement): sum first.
pub async fn add_usage_many(
    conn: &impl ConnectionTrait,
    adds: &[UsageAdd],
) -> Result<(), StoreError> {
    let now = Utc::now();
    for chunk in adds.chunks(1_000) {
        let rows = chunk.iter().map(|a| usage_period::ActiveModel {
            organization_id: Set(a.org),
            meter_id: Set(a.meter),
            account_id: Set(a.account),
            period: Set(a.period.clone()),
            energy_wh: Set(a.energy_wh),
            cost_fen: Set(a.cost_fen),
            updated_at: Set(now),
            ..Default::default()
        });
        usage_period::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([usage_period::Column::MeterId, usage_period::Column::Period])
                    .value(
                        usage_period::Column::EnergyWh,
                        Expr::col((usage_period::Entity, usage_period::Column::EnergyWh))
                            .add(Expr::cust("excluded.energy_wh")),
                    )
                    .value(
                        usage_period::Column::CostFen,
                        Expr::col((usage_period::Entity, usage_period::Column::CostFen))
                            .add(Expr::cust("excluded.cost_fen")),
                    )
                    .value(usage_period::Column::UpdatedAt, Expr::value(now))
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Today's consumption (Wh) and cost (fen) of many accounts over all their meters, each in
/// its own period (`YYYY-MM-DD` of its site), in one query.
pub async fn usage_of_accounts(
    conn: &impl ConnectionTrait,
    accounts: &[(OrgId, AccountId, String)],
) -> Result<std::collections::HashMap<AccountId, (i64, i64)>, StoreError> {
    use std::collections::HashMap;
    let mut out: HashMap<AccountId, (i64, i64)> = HashMap::new();
    let wanted: HashMap<AccountId, (OrgId, &str)> = accounts
        .iter()
        .map(|(o, a, p)| (*a, (*o, p.as_str())))
        .collect();
    let mut periods: Vec<String> = accounts.iter().map(|(_, _, p)| p.clone()).collect();
    periods.sort_unstable();
    periods.dedup();
    let ids: Vec<AccountId> = wanted.keys().copied().collect();
    for chunk in ids.chunks(1_000) {
        let rows: Vec<(OrgId, Option<AccountId>, String, i64, i64)> = usage_period::Entity::find()
            .select_only()
            .column(usage_period::Column::OrganizationId)
            .column(usage_period::Column::AccountId)
            .column(usage_period::Column::Period)
            .column(usage_period::Column::EnergyWh)
            .column(usage_period::Column::CostFen)
            .filter(usage_period::Column::AccountId.is_in(chunk.iter().copied()))
            .filter(usage_period::Column::Period.is_in(periods.iter().cloned()))
            .into_tuple()
            .all(conn)
            .await?;
        for (org, account, period, wh, fen) in rows {
            let Some(account) = account else { continue };
            if wanted.get(&account) == Some(&(org, period.as_str())) {
                let e = out.entry(account).or_insert((0, 0));
                e.0 += wh;
                e.1 += fen;
            }
        }
    }
    Ok(out)
}

/// An account's consumption (Wh) and cost (fen) in a period, over all its meters.
pub async fn usage_of_account(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: AccountId,
    period: &str,
) -> Result<(i64, i64), StoreError> {
    #[derive(FromQueryResult)]
    struct Sum {
        wh: Option<i64>,
        fen: Option<i64>,
    }
    let backend = conn.get_database_backend();
    let stmt = Statement::from_sql_and_values(
        backend,
        match backend {
            sea_orm::DbBackend::Postgres => {
                "SELECT CAST(SUM(energy_wh) AS BIGINT) AS wh, CAST(SUM(cost_fen) AS BIGINT) AS fen \
                 FROM usage_periods WHERE organization_id = $1 AND account_id = $2 AND period = $3"
            }
            _ => {
                "SELECT SUM(energy_wh) AS wh, SUM(cost_fen) AS fen \
                 FROM usage_periods WHERE organization_id = ? AND account_id = ? AND period = ?"
            }
        },
        [org.into(), account.into(), period.into()],
    );
    let sum = Sum::find_by_statement(stmt).one(conn).await?;
    Ok(sum.map_or((0, 0), |s| (s.wh.unwrap_or(0), s.fen.unwrap_or(0))))
}

/// A meter's usage row of a period.
pub async fn usage_of_meter(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter: MeterId,
    period: &str,
) -> Result<Option<usage_period::Model>, StoreError> {
    Ok(usage_period::Entity::find()
        .filter(usage_period::Column::OrganizationId.eq(org))
        .filter(usage_period::Column::MeterId.eq(meter))
        .filter(usage_period::Column::Period.eq(period))
        .one(conn)
        .await?)
}

/// The balance of an account from its ledger entries before `at`.
pub async fn balance_before(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: AccountId,
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let amounts: Vec<i64> = ledger_entry::Entity::find()
        .filter(ledger_entry::Column::OrganizationId.eq(org))
        .filter(ledger_entry::Column::AccountId.eq(account))
        .filter(ledger_entry::Column::CreatedAt.lt(at))
        .select_only()
        .column(ledger_entry::Column::AmountFen)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(amounts.iter().sum())
}

/// Freezes an account's period from the ledger: opening = entries before `start`, closing =
/// entries before `end`. Answers whether this run wrote it (false: already frozen).
pub async fn freeze_balance(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: AccountId,
    period: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let opening = balance_before(conn, org, account, start).await?;
    let closing = balance_before(conn, org, account, end).await?;
    let row = balance_freeze::ActiveModel {
        organization_id: Set(org),
        account_id: Set(account),
        period: Set(period.to_owned()),
        opening_fen: Set(opening),
        closing_fen: Set(closing),
        frozen_at: Set(Utc::now()),
        ..Default::default()
    };
    let res = balance_freeze::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                balance_freeze::Column::AccountId,
                balance_freeze::Column::Period,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await;
    match res {
        Ok(n) => Ok(n == 1),
        Err(sea_orm::DbErr::RecordNotInserted) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The frozen balances of an account's period.
pub async fn frozen(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: AccountId,
    period: &str,
) -> Result<Option<balance_freeze::Model>, StoreError> {
    Ok(balance_freeze::Entity::find()
        .filter(balance_freeze::Column::OrganizationId.eq(org))
        .filter(balance_freeze::Column::AccountId.eq(account))
        .filter(balance_freeze::Column::Period.eq(period))
        .one(conn)
        .await?)
}
