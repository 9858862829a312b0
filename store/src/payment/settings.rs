//! The `payment_settings` table: per-organization limits (defaults when there is no row).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "payment_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: OrgId,
    pub min_amount_fen: i64,
    pub max_amount_fen: i64,
    pub max_pending_per_account: i32,
    /// Refunds above this need an org admin's approval.
    pub refund_approval_above_fen: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
