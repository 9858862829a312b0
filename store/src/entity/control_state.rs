//! The `control_states` table: the full charge-control state of an account.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, OrgId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "control_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: AccountId,
    pub organization_id: OrgId,
    /// The domain `ControlState` as JSON text.
    pub state: String,
    /// The cause of the last transition.
    pub cause: String,
    /// The relay of the account's meter as last observed (`open`/`closed`).
    pub relay: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
