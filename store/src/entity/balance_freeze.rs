//! The `balance_freezes` table: an account's opening and closing balance per local day or month.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, OrgId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "balance_freezes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub account_id: AccountId,
    pub period: String,
    pub opening_fen: i64,
    pub closing_fen: i64,
    pub frozen_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
