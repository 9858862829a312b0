//! Usage history for tenants' charts and managers' statistics: sums over the `usage_periods`
//! the worker adds as it rates readings (one row per meter and local day or month), so the
//! numbers are exactly what was charged.

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use crate::{AccountId, OrgId, StoreError};

/// Consumption and cost of one local day.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct DayUsage {
    /// `YYYY-MM-DD`, the site's local day.
    pub period: String,
    pub energy_wh: i64,
    pub cost_fen: i64,
}

/// `?` or `$n` placeholders, and `SUM` cast back to `BIGINT` on PostgreSQL (where it is
/// `NUMERIC`).
fn sql(backend: DbBackend, template: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(template.len());
    let mut n = 0;
    for c in template.chars() {
        if c == '?' && backend == DbBackend::Postgres {
            n += 1;
            let _ = write!(out, "${n}");
        } else {
            out.push(c);
        }
    }
    out
}

/// An account's days from `from` to `to` (inclusive, `YYYY-MM-DD`) that had usage, oldest
/// first, summed over its meters.
pub async fn daily_of_account(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: AccountId,
    from: &str,
    to: &str,
) -> Result<Vec<DayUsage>, StoreError> {
    let backend = conn.get_database_backend();
    let text = sql(
        backend,
        "SELECT period, CAST(SUM(energy_wh) AS BIGINT) AS energy_wh, \
         CAST(SUM(cost_fen) AS BIGINT) AS cost_fen FROM usage_periods \
         WHERE organization_id = ? AND account_id = ? AND LENGTH(period) = 10 \
         AND period >= ? AND period <= ? GROUP BY period ORDER BY period",
    );
    let stmt = Statement::from_sql_and_values(
        backend,
        text,
        [org.into(), account.into(), from.into(), to.into()],
    );
    Ok(DayUsage::find_by_statement(stmt).all(conn).await?)
}

/// The organization's consumption (Wh) in the periods named (`YYYY-MM-DD` days or `YYYY-MM`
/// months, each site's local ones), over all meters.
pub async fn energy_of_org(
    conn: &impl ConnectionTrait,
    org: OrgId,
    periods: &[String],
) -> Result<i64, StoreError> {
    #[derive(FromQueryResult)]
    struct Sum {
        wh: Option<i64>,
    }
    if periods.is_empty() {
        return Ok(0);
    }
    let backend = conn.get_database_backend();
    let marks = vec!["?"; periods.len()].join(", ");
    let text = sql(
        backend,
        &format!(
            "SELECT CAST(SUM(energy_wh) AS BIGINT) AS wh FROM usage_periods \
             WHERE organization_id = ? AND period IN ({marks})"
        ),
    );
    let mut values = vec![org.into()];
    values.extend(periods.iter().map(|p| p.clone().into()));
    let stmt = Statement::from_sql_and_values(backend, text, values);
    let sum = Sum::find_by_statement(stmt).one(conn).await?;
    Ok(sum.and_then(|s| s.wh).unwrap_or(0))
}
