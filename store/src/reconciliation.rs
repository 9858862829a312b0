//! Reconciliation bookkeeping: which provider bill lines were matched and how. A line is kept
//! once per merchant and provider transaction, so importing a bill twice changes nothing.

pub mod entity;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::error::inserted_or_conflict;
use crate::payment::{order, MerchantId, PaymentOrder, PaymentStatus};
use crate::{OrgId, StoreError};

pub use entity::Model as ReconciliationLine;

#[derive(Clone, Debug)]
pub struct NewLine {
    pub merchant_id: MerchantId,
    pub bill_date: String,
    pub out_trade_no: String,
    pub provider_txn_id: String,
    pub amount_fen: i64,
    pub outcome: String,
    pub detail: Option<String>,
}

/// Records a line; `false` when this transaction of this merchant was recorded before.
pub async fn record_line(
    conn: &impl ConnectionTrait,
    org: OrgId,
    line: NewLine,
) -> Result<bool, StoreError> {
    let row = entity::ActiveModel {
        organization_id: Set(org),
        merchant_id: Set(line.merchant_id),
        bill_date: Set(line.bill_date),
        out_trade_no: Set(line.out_trade_no),
        provider_txn_id: Set(line.provider_txn_id),
        amount_fen: Set(line.amount_fen),
        outcome: Set(line.outcome),
        detail: Set(line.detail),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let res = entity::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([entity::Column::MerchantId, entity::Column::ProviderTxnId])
                .do_nothing()
                .to_owned(),
        )
        .exec_with_returning(conn)
        .await;
    Ok(inserted_or_conflict(res)?.is_some())
}

/// Whether a transaction of the merchant was already reconciled.
pub async fn is_recorded(
    conn: &impl ConnectionTrait,
    org: OrgId,
    merchant: MerchantId,
    provider_txn_id: &str,
) -> Result<bool, StoreError> {
    Ok(entity::Entity::find()
        .filter(entity::Column::OrganizationId.eq(org))
        .filter(entity::Column::MerchantId.eq(merchant))
        .filter(entity::Column::ProviderTxnId.eq(provider_txn_id))
        .one(conn)
        .await?
        .is_some())
}

/// Orders of a merchant we marked paid within `[from, to)`.
pub async fn paid_between(
    conn: &impl ConnectionTrait,
    org: OrgId,
    merchant: MerchantId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<PaymentOrder>, StoreError> {
    Ok(order::Entity::find()
        .filter(order::Column::OrganizationId.eq(org))
        .filter(order::Column::MerchantId.eq(merchant))
        .filter(order::Column::Status.eq(PaymentStatus::Paid))
        .filter(order::Column::PaidAt.gte(from))
        .filter(order::Column::PaidAt.lt(to))
        .all(conn)
        .await?)
}
