//! Settling refunds from WeChat (and sandbox) `REFUND.*` notifications: recorded first, then
//! settled or released through [`super::settle`], exactly once.

use sea_orm::DatabaseConnection;
use store::merchant::Merchant;
use store::payment::{self, NewNotification};
use store::refund as refunds;

use super::settle;
use crate::error::PaymentError;
use crate::wechat::RefundResource;

/// Settles a WeChat (or sandbox) `REFUND.*` notification, recording it first.
pub async fn settle_wechat(
    db: &DatabaseConnection,
    merchant: &Merchant,
    resource: &serde_json::Value,
    raw_body: &str,
    event_type: &str,
) -> Result<(), PaymentError> {
    let org = merchant.organization_id;
    let parsed: RefundResource = serde_json::from_value(resource.clone())
        .map_err(|e| PaymentError::Verification(format!("refund resource: {e}")))?;
    let refund = refunds::lock(db, org, None, Some(&parsed.out_refund_no)).await?;
    let outcome = match &refund {
        None => "unknown_refund",
        Some(r) if r.amount_fen != parsed.amount.refund || r.merchant_id != merchant.id => {
            "refund_mismatch"
        }
        Some(r) => {
            let success = event_type == "REFUND.SUCCESS" && parsed.refund_status == "SUCCESS";
            let changed = settle(
                db,
                org,
                r.id,
                success,
                parsed.refund_id.as_deref(),
                &parsed.refund_status,
            )
            .await?;
            match (changed, success) {
                (false, _) => "duplicate",
                (true, true) => "refunded",
                (true, false) => "refund_failed",
            }
        }
    };
    payment::record_notification(
        db,
        NewNotification {
            organization_id: Some(org),
            merchant_id: Some(merchant.id),
            provider: merchant.provider.clone(),
            order_id: refund.as_ref().map(|r| r.order_id),
            out_trade_no: Some(parsed.out_trade_no.clone()),
            provider_txn_id: parsed.refund_id.clone(),
            event_type: event_type.to_owned(),
            raw_body: raw_body.to_owned(),
            headers: serde_json::json!({}),
            verified: true,
            outcome: outcome.to_owned(),
            detail: Some(format!(
                "refund {} fen, {}",
                parsed.amount.refund, parsed.refund_status
            )),
        },
    )
    .await?;
    if matches!(outcome, "unknown_refund" | "refund_mismatch") {
        payment::open_work_order(
            db,
            org,
            crate::credit::WORK_ORDER_KIND,
            &format!("Refund notification not settled: {outcome}"),
            &format!(
                "{event_type} for out_refund_no {} ({} fen)",
                parsed.out_refund_no, parsed.amount.refund
            ),
            refund.as_ref().map(|r| r.account_id),
        )
        .await?;
    }
    Ok(())
}
