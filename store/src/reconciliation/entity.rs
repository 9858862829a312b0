//! The `reconciliation_lines` table: each provider bill line we have matched, once.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::OrgId;
use crate::payment::MerchantId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "reconciliation_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub merchant_id: MerchantId,
    /// `YYYY-MM-DD`, the bill's day (China time).
    pub bill_date: String,
    pub out_trade_no: String,
    pub provider_txn_id: String,
    pub amount_fen: i64,
    /// `matched`, `repaired` or `open` (a work order was raised).
    pub outcome: String,
    pub detail: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
