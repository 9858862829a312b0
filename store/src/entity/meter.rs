//! The `meters` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{GatewayId, MeterId, OrgId, UnitId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "meters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: MeterId,
    pub organization_id: OrgId,
    pub gateway_id: GatewayId,
    pub unit_id: Option<UnitId>,
    pub bus: String,
    pub slave: i32,
    /// The meter's id on the wire, unique within its gateway.
    pub wire_id: String,
    pub model: Option<String>,
    /// An explicit register map as JSON text, when no preset model fits.
    pub register_map: Option<String>,
    /// Decimal string.
    pub ct_ratio: String,
    /// Decimal string (kW), for the implausible-jump check.
    pub max_power_kw: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
