//! The `refunds` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, OrgId, UserId};
use crate::payment::{MerchantId, PaymentOrderId, RefundId};

/// Where a refund is. The amount is held (a `refund` ledger entry) from the request on;
/// `failed` released it with a `reversal`; `succeeded` is final.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    #[sea_orm(string_value = "pending_approval")]
    PendingApproval,
    #[sea_orm(string_value = "processing")]
    Processing,
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    #[sea_orm(string_value = "failed")]
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: RefundId,
    pub organization_id: OrgId,
    pub account_id: AccountId,
    pub order_id: PaymentOrderId,
    pub merchant_id: MerchantId,
    /// Ours, unique, sent to the provider.
    pub out_refund_no: String,
    pub amount_fen: i64,
    pub reason: String,
    pub status: RefundStatus,
    pub requested_by: Option<UserId>,
    pub approved_by: Option<UserId>,
    pub provider_refund_id: Option<String>,
    /// The idempotency key of the holding `refund` entry.
    pub hold_entry_key: String,
    pub detail: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
