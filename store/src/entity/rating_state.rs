//! The `rating_states` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{MeterId, OrgId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "rating_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub meter_id: MeterId,
    pub organization_id: OrgId,
    /// The domain rating state as JSON text.
    pub state: String,
    pub last_ts: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
