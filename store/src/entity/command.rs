//! The `commands` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::CommandState;
use crate::ids::{CommandId, MeterId, OrgId, UserId};

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
    /// The operator who asked for it; `None` for charge control.
    pub requested_by: Option<UserId>,
    /// When the worker (re)sends it next; `None` once it needs no more sending.
    pub next_attempt_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
