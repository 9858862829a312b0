//! The `usage_periods` table: a meter's consumption and its cost per local day or month.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, MeterId, OrgId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "usage_periods")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub meter_id: MeterId,
    pub account_id: Option<AccountId>,
    /// `YYYY-MM-DD` (a local day of the site) or `YYYY-MM` (a local month).
    pub period: String,
    pub energy_wh: i64,
    pub cost_fen: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
