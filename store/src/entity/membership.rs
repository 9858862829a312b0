//! The `memberships` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{OrgId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: UserId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: OrgId,
    /// A `domain::Role` in its snake_case form.
    pub role: String,
    pub created_at: DateTimeUtc,
    /// A disabled member cannot sign in to this organization.
    pub disabled: bool,
    /// When set, the member sees only rows under the sites listed in `membership_sites`.
    pub site_limited: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
