//! The `sites` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{OrgId, SiteId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "sites")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: SiteId,
    pub organization_id: OrgId,
    pub name: String,
    /// IANA zone name; tariffs' periods are local time of the site.
    pub timezone: String,
    pub address: String,
    pub alarm_threshold_fen: i64,
    pub trip_threshold_fen: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
