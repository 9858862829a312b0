//! The `tariff_versions` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{OrgId, TariffId, TariffVersionId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "tariff_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: TariffVersionId,
    pub organization_id: OrgId,
    pub tariff_id: TariffId,
    pub effective_from: DateTimeUtc,
    /// The domain tariff definition as JSON text.
    pub definition: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
