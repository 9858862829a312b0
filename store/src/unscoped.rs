//! The few queries that are deliberately not scoped to one organization. Each says why it may
//! cross the tenancy boundary; nothing else in the store does.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, Statement,
};

use crate::entity::{account, gateway, organization, tenant};
use crate::page::{fetch, Page, Paged};
use crate::{Account, AccountId, Gateway, OrgId, Organization, StoreError};

/// The door page: anyone holding an account number (printed on the door's QR code) may see
/// that account's balance and power state and pay (ARCHITECTURE.md invariant 5's exception).
/// Callers show only what the door page shows.
pub async fn find_by_account_no(
    conn: &impl ConnectionTrait,
    account_no: &str,
) -> Result<Option<Account>, StoreError> {
    Ok(account::Entity::find()
        .filter(account::Column::AccountNo.eq(account_no.trim()))
        .one(conn)
        .await?)
}

/// Tenant self-service: a tenant signs in with their phone, which may hold accounts in several
/// organizations (a home and a shop). Scoped by the phone the one-time code proved, not by an
/// organization; open and closed accounts, newest first.
pub async fn accounts_of_phone(
    conn: &impl ConnectionTrait,
    phone: &str,
) -> Result<Vec<Account>, StoreError> {
    use sea_orm::sea_query::Query;
    let tenants = Query::select()
        .column(tenant::Column::Id)
        .from(tenant::Entity)
        .and_where(tenant::Column::Phone.eq(phone))
        .to_owned();
    Ok(account::Entity::find()
        .filter(account::Column::TenantId.in_subquery(tenants))
        .order_by_desc(account::Column::OpenedAt)
        .all(conn)
        .await?)
}

/// Tenant sign-in: the tenant records (in every organization) that carry a phone, which the
/// tenant's token then names. Scoped by the phone a one-time code proved.
pub async fn tenants_of_phone(
    conn: &impl ConnectionTrait,
    phone: &str,
) -> Result<Vec<(crate::TenantId, OrgId)>, StoreError> {
    use sea_orm::QuerySelect as _;
    Ok(tenant::Entity::find()
        .filter(tenant::Column::Phone.eq(phone))
        .select_only()
        .column(tenant::Column::Id)
        .column(tenant::Column::OrganizationId)
        .order_by_asc(tenant::Column::Id)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Incoming MQTT traffic names its gateway by wire id only (globally unique); the worker finds
/// the owning organization here and scopes everything after by it.
pub async fn find_gateway_by_wire_id(
    conn: &impl ConnectionTrait,
    gateway_id: &str,
) -> Result<Option<Gateway>, StoreError> {
    Ok(gateway::Entity::find()
        .filter(gateway::Column::GatewayId.eq(gateway_id))
        .one(conn)
        .await?)
}

/// Platform admin: every organization.
pub async fn list_organizations(
    conn: &impl ConnectionTrait,
    page: Page,
) -> Result<Paged<Organization>, StoreError> {
    let select = organization::Entity::find().order_by_asc(organization::Column::Id);
    fetch(conn, select, page).await
}

/// An account whose running balance differs from the sum of its ledger entries.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct Mismatch {
    pub account_id: AccountId,
    pub organization_id: OrgId,
    pub balance_fen: i64,
    pub entries_fen: i64,
}

/// Invariant check over all organizations (tests, and a periodic job): every balance equals
/// the sum of its entries. An empty result means money was neither created nor lost.
pub async fn verify_balances(conn: &impl ConnectionTrait) -> Result<Vec<Mismatch>, StoreError> {
    // SUM of BIGINT is NUMERIC on PostgreSQL: cast back so both backends answer an integer.
    let sql = "SELECT a.id AS account_id, a.organization_id AS organization_id, \
               a.balance_fen AS balance_fen, \
               CAST(COALESCE(SUM(e.amount_fen), 0) AS BIGINT) AS entries_fen \
               FROM accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id \
               GROUP BY a.id, a.organization_id, a.balance_fen \
               HAVING a.balance_fen <> CAST(COALESCE(SUM(e.amount_fen), 0) AS BIGINT) \
               ORDER BY a.id";
    let stmt = Statement::from_string(conn.get_database_backend(), sql);
    Ok(Mismatch::find_by_statement(stmt).all(conn).await?)
}
