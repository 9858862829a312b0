//! The `payment_notifications` table: every verified provider notification, raw.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::{MerchantId, PaymentOrderId};
use crate::ids::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "payment_notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: Option<OrgId>,
    pub merchant_id: Option<MerchantId>,
    pub provider: String,
    pub order_id: Option<PaymentOrderId>,
    pub out_trade_no: Option<String>,
    pub provider_txn_id: Option<String>,
    /// `TRANSACTION.SUCCESS`, `trade_status_sync`, `poll`, ...
    pub event_type: String,
    /// Exactly the bytes received (lossless UTF-8 or the provider's charset decoded).
    pub raw_body: String,
    /// The provider headers that were verified, JSON text.
    pub headers: String,
    pub verified: bool,
    /// `credited`, `duplicate`, `not_paid`, `unknown_order`, `amount_mismatch`, ...
    pub outcome: String,
    pub detail: Option<String>,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
