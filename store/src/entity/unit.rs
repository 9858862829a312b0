//! The `units` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::UnitKind;
use crate::ids::{BuildingId, OrgId, UnitId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "units")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: UnitId,
    pub organization_id: OrgId,
    pub building_id: BuildingId,
    pub name: String,
    pub kind: UnitKind,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
