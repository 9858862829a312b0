//! The `meter_retirements` table: meters taken out of service (replaced), one row each.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{MeterId, OrgId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "meter_retirements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub meter_id: MeterId,
    pub organization_id: OrgId,
    pub retired_at: DateTimeUtc,
    pub replaced_by: Option<MeterId>,
    pub final_wh: i64,
    /// The wire id it had in service.
    pub wire_id: String,
    pub retired_by: Option<UserId>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
