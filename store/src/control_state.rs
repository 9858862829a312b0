//! The charge-control state of each account: the domain [`ControlState`] as JSON, the cause
//! of its last transition and the relay last seen. The worker locks the row while it steps
//! the machine, and mirrors the status name into `accounts.cc_state` for list pages.

use chrono::{DateTime, Utc};
use domain::ControlState;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::entity::{account, control_state};
use crate::{AccountId, OrgId, StoreError};

/// What is stored for an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredControl {
    pub state: ControlState,
    pub cause: String,
    pub relay: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Locks the account's control state for the caller's transaction, creating it from `initial`
/// when the account has none yet.
pub async fn lock(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: AccountId,
    initial: ControlState,
) -> Result<StoredControl, StoreError> {
    let now = Utc::now();
    let row = control_state::ActiveModel {
        account_id: Set(account),
        organization_id: Set(org),
        state: Set(encode(&initial)?),
        cause: Set("opened".into()),
        relay: Set(None),
        updated_at: Set(now),
    };
    match control_state::Entity::insert(row)
        .on_conflict(
            OnConflict::column(control_state::Column::AccountId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
    {
        Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => {}
        Err(e) => return Err(e.into()),
    }
    let row = control_state::Entity::find_by_id(account)
        .filter(control_state::Column::OrganizationId.eq(org))
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    decode(row)
}

/// The stored state without locking.
pub async fn get(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: AccountId,
) -> Result<Option<StoredControl>, StoreError> {
    control_state::Entity::find_by_id(account)
        .filter(control_state::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .map(decode)
        .transpose()
}

/// Saves a new state (after [`lock`]) and mirrors its name into the account row.
pub async fn save(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: AccountId,
    state: &ControlState,
    cause: &str,
) -> Result<(), StoreError> {
    let now = Utc::now();
    control_state::Entity::update_many()
        .col_expr(control_state::Column::State, Expr::value(encode(state)?))
        .col_expr(control_state::Column::Cause, Expr::value(cause))
        .col_expr(control_state::Column::UpdatedAt, Expr::value(now))
        .filter(control_state::Column::AccountId.eq(account))
        .filter(control_state::Column::OrganizationId.eq(org))
        .exec(conn)
        .await?;
    account::Entity::update_many()
        .col_expr(account::Column::CcState, Expr::value(state.status.name()))
        .filter(account::Column::Id.eq(account))
        .filter(account::Column::OrganizationId.eq(org))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records the relay state last observed for the account's meter.
pub async fn set_relay(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: AccountId,
    relay: &str,
) -> Result<(), StoreError> {
    control_state::Entity::update_many()
        .col_expr(control_state::Column::Relay, Expr::value(relay))
        .filter(control_state::Column::AccountId.eq(account))
        .filter(control_state::Column::OrganizationId.eq(org))
        .exec(conn)
        .await?;
    Ok(())
}

/// Accounts whose state is not `normal` (the tick re-steps them: trip windows open, SLAs
/// and forced closes expire). Unscoped on purpose: the schedule runs for the platform.
pub async fn not_normal(
    conn: &impl ConnectionTrait,
) -> Result<Vec<(OrgId, AccountId)>, StoreError> {
    Ok(control_state::Entity::find()
        .filter(control_state::Column::State.not_like("%\"status\":\"normal\"%"))
        .select_only()
        .column(control_state::Column::OrganizationId)
        .column(control_state::Column::AccountId)
        .into_tuple()
        .all(conn)
        .await?)
}

fn encode(state: &ControlState) -> Result<String, StoreError> {
    serde_json::to_string(state).map_err(|e| StoreError::Invalid(format!("control state: {e}")))
}

fn decode(row: control_state::Model) -> Result<StoredControl, StoreError> {
    let state = serde_json::from_str(&row.state)
        .map_err(|e| StoreError::Invalid(format!("control state: {e}")))?;
    Ok(StoredControl {
        state,
        cause: row.cause,
        relay: row.relay,
        updated_at: row.updated_at,
    })
}
