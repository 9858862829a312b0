//! The `ledger_entries` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::LedgerKind;
use crate::ids::{AccountId, LedgerEntryId, OrgId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "ledger_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: LedgerEntryId,
    pub organization_id: OrgId,
    pub account_id: AccountId,
    pub kind: LedgerKind,
    /// Signed: credits positive, charges negative.
    pub amount_fen: i64,
    pub balance_after_fen: i64,
    pub idempotency_key: String,
    pub corrects_entry_id: Option<LedgerEntryId>,
    pub memo: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
