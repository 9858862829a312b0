//! The `readings` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{MeterId, OrgId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "readings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub meter_id: MeterId,
    pub ts: DateTimeUtc,
    pub energy_wh: Option<i64>,
    pub tou_sharp_wh: Option<i64>,
    pub tou_peak_wh: Option<i64>,
    pub tou_flat_wh: Option<i64>,
    pub tou_valley_wh: Option<i64>,
    pub voltage_v: Option<String>,
    pub current_a: Option<String>,
    pub power_kw: Option<String>,
    pub relay: Option<String>,
    pub error: Option<String>,
    pub gateway_batch: Option<i64>,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
