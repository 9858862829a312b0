//! The `manual_readings` table: who entered a `readings` row by hand, and why.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{MeterId, OrgId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "manual_readings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub meter_id: MeterId,
    pub ts: DateTimeUtc,
    /// `manual`, `final` or `start`.
    pub purpose: String,
    pub entered_by: Option<UserId>,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
