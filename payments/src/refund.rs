//! Refunds of paid top-ups (account closing, an operator's decision with a reason; above the
//! organization's limit an org admin approves first).
//!
//! The refunded amount is held from the request on: a `refund` ledger entry (key
//! `refund:{id}`) takes it off the balance at once, so it can no longer be spent. The
//! provider's refund API is then called; its success settles the refund (WeChat by its
//! `REFUND.SUCCESS` notification, Alipay synchronously, the sandbox at once), its failure
//! releases the hold with a `reversal` entry (key `refund-release:{id}`) pointing at the hold.
//! Both happen with the refund row locked and are keyed, so each happens at most once.

mod notification;

use domain::Money;
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde::Deserialize;
use store::ledger::{self, NewEntry};
use store::payment::{self, PaymentStatus, RefundId};
use store::refund::{self as refunds, NewRefund, Refund, RefundStatus};
use store::{outbox, LedgerKind, OrgId, UserId};
use utoipa::ToSchema;

pub use notification::settle_wechat;

use crate::error::PaymentError;
use crate::merchant::MerchantKeys;
use crate::Clients;

/// `POST /api/v1/refunds`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct RefundRequest {
    pub order_id: uuid::Uuid,
    /// Yuan; the whole remaining order amount when omitted.
    pub amount: Option<String>,
    pub reason: String,
}

fn rejected(code: &'static str, detail: impl Into<String>) -> PaymentError {
    PaymentError::rejected(code, detail)
}

/// Who asks: an org admin may exceed the approval limit.
#[derive(Clone, Copy, Debug)]
pub struct Actor {
    pub user: UserId,
    pub org_admin: bool,
}

/// Requests a refund: holds the amount, then (unless it waits for approval) asks the provider.
#[tracing::instrument(skip_all, fields(org_id = %org))]
pub async fn request_refund(
    db: &DatabaseConnection,
    clients: &Clients,
    org: OrgId,
    actor: Actor,
    req: RefundRequest,
) -> Result<Refund, PaymentError> {
    if req.reason.trim().is_empty() {
        return Err(rejected("reason_required", "a refund needs a reason"));
    }
    let limits = payment::limits(db, org).await?;
    let txn = db.begin().await?;
    let order = payment::lock_order(&txn, org, req.order_id.into())
        .await?
        .ok_or_else(|| rejected("order_not_found", "no such order"))?;
    if order.status != PaymentStatus::Paid {
        return Err(rejected(
            "order_not_paid",
            "only a paid order can be refunded",
        ));
    }
    let remaining = order.amount_fen - refunds::committed_fen(&txn, org, order.id).await?;
    let amount_fen = match &req.amount {
        None => remaining,
        Some(a) => Money::parse_amount(a.trim())
            .ok()
            .and_then(|m| m.to_fen().ok())
            .ok_or_else(|| rejected("invalid_amount", "amount like 37.50"))?,
    };
    if amount_fen <= 0 || amount_fen > remaining {
        return Err(rejected(
            "amount_exceeds_refundable",
            format!("at most {} can be refunded", Money::from_fen(remaining)),
        ));
    }
    let account = store::account::get(&txn, org, order.account_id).await?;
    if account.balance_fen < amount_fen {
        return Err(rejected(
            "insufficient_balance",
            "the balance no longer holds the amount to refund",
        ));
    }
    let id = RefundId::new();
    let hold_key = format!("refund:{id}");
    ledger::post_in_txn(
        &txn,
        org,
        NewEntry {
            account_id: order.account_id,
            kind: LedgerKind::Refund,
            amount: -Money::from_fen(amount_fen),
            idempotency_key: hold_key.clone(),
            corrects: None,
            memo: Some(format!(
                "refund of {} ({})",
                order.out_trade_no,
                req.reason.trim()
            )),
            created_by: Some(actor.user),
        },
    )
    .await?;
    let needs_approval = amount_fen > limits.refund_approval_above_fen && !actor.org_admin;
    let refund = refunds::create(
        &txn,
        org,
        NewRefund {
            id,
            account_id: order.account_id,
            order_id: order.id,
            merchant_id: order.merchant_id,
            out_refund_no: format!("RF{}", id.0.simple()),
            amount_fen,
            reason: req.reason.trim().to_owned(),
            status: if needs_approval {
                RefundStatus::PendingApproval
            } else {
                RefundStatus::Processing
            },
            requested_by: Some(actor.user),
            hold_entry_key: hold_key,
        },
    )
    .await?;
    balance_changed(&txn, org, &refund, "refund_hold").await?;
    store::audit::record(
        &txn,
        Some(org),
        Some(actor.user),
        "refund.request",
        "refund",
        &id.to_string(),
        serde_json::json!({"order_id": order.id, "amount": Money::from_fen(amount_fen).to_string(), "reason": refund.reason, "needs_approval": needs_approval}),
    )
    .await?;
    txn.commit().await?;
    if needs_approval {
        return Ok(refund);
    }
    submit(db, clients, org, &refund).await
}

/// An org admin approves a refund waiting for approval; it goes to the provider.
pub async fn approve_refund(
    db: &DatabaseConnection,
    clients: &Clients,
    org: OrgId,
    approver: UserId,
    id: RefundId,
) -> Result<Refund, PaymentError> {
    let txn = db.begin().await?;
    let refund = refunds::lock(&txn, org, Some(id), None)
        .await?
        .ok_or_else(|| rejected("refund_not_found", "no such refund"))?;
    if refund.status != RefundStatus::PendingApproval {
        return Err(rejected(
            "refund_not_pending",
            "this refund is not waiting for approval",
        ));
    }
    refunds::set_status(
        &txn,
        org,
        id,
        RefundStatus::Processing,
        None,
        Some(approver),
        None,
    )
    .await?;
    store::audit::record(
        &txn,
        Some(org),
        Some(approver),
        "refund.approve",
        "refund",
        &id.to_string(),
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    let refund = refunds::get(db, org, id).await?;
    submit(db, clients, org, &refund).await
}

async fn balance_changed(
    txn: &sea_orm::DatabaseTransaction,
    org: OrgId,
    refund: &Refund,
    cause: &str,
) -> Result<(), PaymentError> {
    outbox::enqueue(
        txn,
        Some(org),
        outbox::kind::BALANCE_CHANGED,
        serde_json::json!({"account_id": refund.account_id, "cause": cause, "refund_id": refund.id}),
    )
    .await?;
    Ok(())
}

/// Asks the provider; settles or releases according to its answer.
async fn submit(
    db: &DatabaseConnection,
    clients: &Clients,
    org: OrgId,
    refund: &Refund,
) -> Result<Refund, PaymentError> {
    let order = payment::get(db, org, refund.order_id).await?;
    let merchant = store::merchant::get(db, org, refund.merchant_id).await?;
    let outcome = async {
        match clients.keys(&merchant)? {
            // Pretend money: the sandbox "returns" it at once.
            MerchantKeys::Sandbox(..) => Ok((true, None)),
            MerchantKeys::Alipay(k) => clients
                .alipay(&k)
                .refund(
                    &order.out_trade_no,
                    &refund.out_refund_no,
                    refund.amount_fen,
                    &refund.reason,
                )
                .await
                .map(|moved| (moved, None)),
            MerchantKeys::Wechat(k) => {
                let started = clients
                    .wechat(&k)
                    .refund(
                        &order.out_trade_no,
                        &refund.out_refund_no,
                        refund.amount_fen,
                        order.amount_fen,
                        &refund.reason,
                        &clients.notify_url("wechat", merchant.id),
                    )
                    .await?;
                Ok((started.status == "SUCCESS", started.refund_id))
            }
        }
    }
    .await;
    match outcome {
        Ok((true, provider_id)) => {
            settle(
                db,
                org,
                refund.id,
                true,
                provider_id.as_deref(),
                "provider confirmed",
            )
            .await?;
        }
        Ok((false, provider_id)) => {
            // Accepted, settles by notification.
            refunds::set_status(
                db,
                org,
                refund.id,
                RefundStatus::Processing,
                provider_id.as_deref(),
                None,
                None,
            )
            .await?;
        }
        Err(e) => {
            tracing::warn!(refund_id = %refund.id, error = %e, "refund refused by the provider");
            settle(db, org, refund.id, false, None, &e.to_string()).await?;
        }
    }
    Ok(refunds::get(db, org, refund.id).await?)
}

/// Settles (`success`) or releases a processing refund, exactly once: the row is locked and
/// a refund already settled or failed is left alone. Answers whether anything changed.
pub async fn settle(
    db: &DatabaseConnection,
    org: OrgId,
    id: RefundId,
    success: bool,
    provider_refund_id: Option<&str>,
    detail: &str,
) -> Result<bool, PaymentError> {
    let txn = db.begin().await?;
    let Some(refund) = refunds::lock(&txn, org, Some(id), None).await? else {
        return Err(rejected("refund_not_found", "no such refund"));
    };
    if !matches!(
        refund.status,
        RefundStatus::Processing | RefundStatus::PendingApproval
    ) {
        return Ok(false);
    }
    if success {
        refunds::set_status(
            &txn,
            org,
            id,
            RefundStatus::Succeeded,
            provider_refund_id,
            None,
            Some(detail),
        )
        .await?;
    } else {
        let hold = ledger::find_entry_by_key(&txn, org, &refund.hold_entry_key)
            .await?
            .ok_or_else(|| PaymentError::Store(store::StoreError::NotFound))?;
        ledger::post_in_txn(
            &txn,
            org,
            NewEntry {
                account_id: refund.account_id,
                kind: LedgerKind::Reversal,
                amount: Money::from_fen(refund.amount_fen),
                idempotency_key: format!("refund-release:{id}"),
                corrects: Some(hold.id),
                memo: Some(format!("refund failed: {detail}")),
                created_by: None,
            },
        )
        .await?;
        refunds::set_status(
            &txn,
            org,
            id,
            RefundStatus::Failed,
            provider_refund_id,
            None,
            Some(detail),
        )
        .await?;
        balance_changed(&txn, org, &refund, "refund_released").await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// The refund as the API shows it.
pub fn view(refund: &Refund) -> serde_json::Value {
    serde_json::json!({
        "id": refund.id,
        "order_id": refund.order_id,
        "account_id": refund.account_id,
        "amount": Money::from_fen(refund.amount_fen).to_string(),
        "reason": refund.reason,
        "status": refund.status,
        "out_refund_no": refund.out_refund_no,
        "created_at": refund.created_at,
        "detail": refund.detail,
    })
}
