//! The `merchants` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{OrgId, SiteId};
use crate::payment::MerchantId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "merchants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: MerchantId,
    pub organization_id: OrgId,
    pub name: String,
    /// `wechat`, `alipay` or `sandbox`.
    pub provider: String,
    /// Public configuration, JSON text (ids, platform public keys).
    pub config: String,
    /// The secrets, sealed by the application (never readable from the database alone).
    pub secrets_sealed: String,
    pub default_for_org: bool,
    pub default_site_id: Option<SiteId>,
    pub enabled: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
