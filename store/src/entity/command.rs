//! The `commands` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::CommandState;
use crate::ids::{CommandId, MeterId, OrgId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "commands")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: CommandId,
    pub organization_id: OrgId,
    pub meter_id: MeterId,
    pub seq: i64,
    pub action: String,
    pub state: CommandState,
    pub attempts: i32,
    pub issued_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub acked_at: Option<DateTimeUtc>,
    pub relay: Option<String>,
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
