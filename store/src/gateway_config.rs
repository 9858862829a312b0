//! What the worker keeps about a gateway's configuration beyond the `gateways` row the API
//! manages: the bus settings (transport, device or address, timing; JSON keyed by bus name)
//! from which it builds the `GatewayConfig` it publishes, the published version, and the version
//! and error the agent reports in its status.

use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::entity::gateway;
use crate::{GatewayId, OrgId, StoreError};

/// The configuration columns of a gateway.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct ConfigState {
    pub config_version: i64,
    pub reported_config_version: Option<i64>,
    pub config_error: Option<String>,
    pub bus_settings: Option<String>,
}

pub async fn get(
    conn: &impl ConnectionTrait,
    org: OrgId,
    gateway: GatewayId,
) -> Result<ConfigState, StoreError> {
    let select = Query::select()
        .columns([
            Alias::new("config_version"),
            Alias::new("reported_config_version"),
            Alias::new("config_error"),
            Alias::new("bus_settings"),
        ])
        .from(gateway::Entity)
        .and_where(Expr::col(Alias::new("id")).eq(gateway))
        .and_where(Expr::col(Alias::new("organization_id")).eq(org))
        .to_owned();
    ConfigState::find_by_statement(conn.get_database_backend().build(&select))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Sets the bus settings: `{"rs485-1": {"transport": "rtu", "device": "/dev/ttyUSB0", ...}}`.
pub async fn set_bus_settings(
    conn: &impl ConnectionTrait,
    org: OrgId,
    gateway: GatewayId,
    settings: &serde_json::Value,
) -> Result<(), StoreError> {
    let update = Query::update()
        .table(gateway::Entity)
        .value(Alias::new("bus_settings"), settings.to_string())
        .and_where(Expr::col(Alias::new("id")).eq(gateway))
        .and_where(Expr::col(Alias::new("organization_id")).eq(org))
        .to_owned();
    let res = conn
        .execute(conn.get_database_backend().build(&update))
        .await?;
    if res.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// Takes the next config version (the published one plus one) and answers it.
pub async fn next_version(
    conn: &impl ConnectionTrait,
    org: OrgId,
    gateway: GatewayId,
) -> Result<i64, StoreError> {
    let update = Query::update()
        .table(gateway::Entity)
        .value(
            Alias::new("config_version"),
            Expr::col(Alias::new("config_version")).add(1),
        )
        .and_where(Expr::col(Alias::new("id")).eq(gateway))
        .and_where(Expr::col(Alias::new("organization_id")).eq(org))
        .returning(Query::returning().column(Alias::new("config_version")))
        .to_owned();
    let row = conn
        .query_one(conn.get_database_backend().build(&update))
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(row.try_get("", "config_version")?)
}
