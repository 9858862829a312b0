//! Figures for the managers' overview (`GET /api/v1/stats/overview`): counts and sums over one
//! organization's accounts, devices, ledger and commands. Every query filters on `org`.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};

use crate::{OrgId, StoreError};

/// The organization's figures at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overview {
    pub accounts_total: i64,
    pub accounts_alarmed: i64,
    pub accounts_tripped: i64,
    pub accounts_protected: i64,
    pub balance_total_fen: i64,
    pub meters_total: i64,
    pub meters_offline: i64,
    pub gateways_total: i64,
    pub gateways_offline: i64,
}

/// Money in and commands out over a period.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// Top-ups (online and at the counter) credited, fen.
    pub topups_fen: i64,
    pub topups_count: i64,
    /// Commands that reached a final state, and those of them that succeeded.
    pub commands_final: i64,
    pub commands_succeeded: i64,
}

#[derive(FromQueryResult)]
struct One {
    n: Option<i64>,
}

/// Runs a `SELECT ... AS n` with `?` placeholders (numbered on PostgreSQL).
async fn scalar(
    conn: &impl ConnectionTrait,
    template: &str,
    values: Vec<Value>,
) -> Result<i64, StoreError> {
    use std::fmt::Write as _;
    let backend = conn.get_database_backend();
    let mut sql = String::with_capacity(template.len());
    let mut i = 0;
    for c in template.chars() {
        if c == '?' && backend == DbBackend::Postgres {
            i += 1;
            let _ = write!(sql, "${i}");
        } else {
            sql.push(c);
        }
    }
    let stmt = Statement::from_sql_and_values(backend, sql, values);
    Ok(One::find_by_statement(stmt)
        .one(conn)
        .await?
        .and_then(|r| r.n)
        .unwrap_or(0))
}

/// Open accounts by state, their balances, and devices that are offline: a gateway reported
/// offline, or a meter without a good reading since `stale_before`.
pub async fn overview(
    conn: &impl ConnectionTrait,
    org: OrgId,
    stale_before: DateTime<Utc>,
) -> Result<Overview, StoreError> {
    let o = || vec![Value::from(org)];
    let open = "FROM accounts WHERE organization_id = ? AND status = 'open'";
    Ok(Overview {
        accounts_total: scalar(conn, &format!("SELECT COUNT(*) AS n {open}"), o()).await?,
        accounts_alarmed: scalar(
            conn,
            &format!("SELECT COUNT(*) AS n {open} AND cc_state IN ('alarmed', 'trip_pending')"),
            o(),
        )
        .await?,
        accounts_tripped: scalar(
            conn,
            &format!("SELECT COUNT(*) AS n {open} AND cc_state IN ('tripped', 'force_tripped')"),
            o(),
        )
        .await?,
        accounts_protected: scalar(
            conn,
            &format!("SELECT COUNT(*) AS n {open} AND protected = ?"),
            vec![org.into(), true.into()],
        )
        .await?,
        balance_total_fen: scalar(
            conn,
            &format!("SELECT CAST(COALESCE(SUM(balance_fen), 0) AS BIGINT) AS n {open}"),
            o(),
        )
        .await?,
        meters_total: scalar(
            conn,
            "SELECT COUNT(*) AS n FROM meters WHERE organization_id = ?",
            o(),
        )
        .await?,
        meters_offline: scalar(
            conn,
            "SELECT COUNT(*) AS n FROM meters m WHERE m.organization_id = ? AND NOT EXISTS \
             (SELECT 1 FROM readings r WHERE r.meter_id = m.id AND r.error IS NULL AND r.ts >= ?)",
            vec![org.into(), stale_before.into()],
        )
        .await?,
        gateways_total: scalar(
            conn,
            "SELECT COUNT(*) AS n FROM gateways WHERE organization_id = ?",
            o(),
        )
        .await?,
        gateways_offline: scalar(
            conn,
            "SELECT COUNT(*) AS n FROM gateways WHERE organization_id = ? AND online = ?",
            vec![org.into(), false.into()],
        )
        .await?,
    })
}

/// Top-ups credited and commands issued in `[from, to)`.
pub async fn activity(
    conn: &impl ConnectionTrait,
    org: OrgId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Activity, StoreError> {
    let range = || vec![Value::from(org), from.into(), to.into()];
    let topups = "FROM ledger_entries WHERE organization_id = ? AND created_at >= ? \
                  AND created_at < ? AND kind = 'topup'";
    let commands = "FROM commands WHERE organization_id = ? AND issued_at >= ? AND issued_at < ?";
    Ok(Activity {
        topups_fen: scalar(
            conn,
            &format!("SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS n {topups}"),
            range(),
        )
        .await?,
        topups_count: scalar(conn, &format!("SELECT COUNT(*) AS n {topups}"), range()).await?,
        commands_final: scalar(
            conn,
            &format!(
                "SELECT COUNT(*) AS n {commands} AND state IN ('succeeded', 'failed', 'expired')"
            ),
            range(),
        )
        .await?,
        commands_succeeded: scalar(
            conn,
            &format!("SELECT COUNT(*) AS n {commands} AND state = 'succeeded'"),
            range(),
        )
        .await?,
    })
}
