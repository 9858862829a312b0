//! The `control_settings` table: one level's own charge-control values (`NULL` inherits).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "control_settings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    /// `organization`, `site` or `account`.
    pub scope: String,
    /// The organization's, site's or account's id.
    pub scope_id: Uuid,
    pub alarm_threshold_fen: Option<i64>,
    pub trip_threshold_fen: Option<i64>,
    /// The domain `TripWindows` as JSON.
    pub trip_windows: Option<String>,
    pub restore_sla_secs: Option<i64>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
