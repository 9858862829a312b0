//! The `notifications` table: every message sent to a person, unique per dedup key.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, OrgId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub dedup_key: String,
    pub account_id: Option<AccountId>,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    /// `sent` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
