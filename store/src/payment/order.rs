//! The `payment_orders` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::{MerchantId, PaymentOrderId};
use crate::ids::{AccountId, OrgId};

/// Where a payment order is in its life. `paid` is final; a notification for an `expired` or
/// `closed` order that the provider confirms as paid still credits (the money has arrived).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "paid")]
    Paid,
    #[sea_orm(string_value = "closed")]
    Closed,
    #[sea_orm(string_value = "expired")]
    Expired,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "payment_orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PaymentOrderId,
    pub organization_id: OrgId,
    pub account_id: AccountId,
    pub merchant_id: MerchantId,
    /// `wechat`, `alipay` or `sandbox`.
    pub provider: String,
    /// `jsapi`, `h5`, `native`, `wap` or `sandbox`.
    pub channel: String,
    /// Ours, globally unique, sent to the provider.
    pub out_trade_no: String,
    pub amount_fen: i64,
    pub status: PaymentStatus,
    /// The provider's transaction id once paid.
    pub provider_txn_id: Option<String>,
    pub openid: Option<String>,
    /// What the phone does next (`{"kind": ...}`), JSON text.
    pub pay: String,
    pub expires_at: DateTimeUtc,
    pub paid_at: Option<DateTimeUtc>,
    pub next_poll_at: Option<DateTimeUtc>,
    pub poll_attempts: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
