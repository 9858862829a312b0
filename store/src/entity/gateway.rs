//! The `gateways` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{GatewayId, OrgId, SiteId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "gateways")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: GatewayId,
    pub organization_id: OrgId,
    pub site_id: SiteId,
    /// The wire id `gw-...`, globally unique (it is the MQTT username).
    pub gateway_id: String,
    pub name: String,
    #[serde(skip_serializing)]
    pub mqtt_password_hash: Option<String>,
    pub config_version: i64,
    pub last_seen_at: Option<DateTimeUtc>,
    pub online: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
