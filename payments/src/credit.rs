//! Crediting a confirmed payment, exactly once: the one path every paid result takes
//! (WeChat and sandbox notifications, Alipay notifications, polling, reconciliation).
//!
//! One transaction: lock the order row (first statement, a write: PostgreSQL row lock, SQLite
//! write lock), check it, post the `topup` entry (idempotency key `{provider}:{transaction
//! id}`), mark the order paid, keep the raw notification, write the `account.balance_changed`
//! outbox row. A duplicate (sequential or concurrent, notification or poll) finds the order
//! paid by the same transaction and changes nothing. A notification for an expired or closed
//! order still credits: the provider has the money. Verified but wrong reports (unknown order,
//! wrong merchant, amount mismatch, a second transaction for a paid order) are recorded with
//! their raw body and raise a work order; nothing is credited.

use chrono::{DateTime, Utc};
use domain::Money;
use sea_orm::{DatabaseConnection, TransactionTrait};
use store::ledger::{self, NewEntry};
use store::merchant::Merchant;
use store::outbox;
use store::payment::{self, NewNotification, PaymentOrder, PaymentOrderId, PaymentStatus};
use store::LedgerKind;

use crate::error::PaymentError;

/// The work order kind payments raise.
pub const WORK_ORDER_KIND: &str = "payment";

/// A payment the provider confirmed (signature verified, resource decrypted, identity of the
/// merchant already checked by the caller).
#[derive(Clone, Debug)]
pub struct PaidReport {
    pub out_trade_no: String,
    pub transaction_id: String,
    /// Fen, as the provider confirmed it.
    pub amount_fen: i64,
    pub paid_at: DateTime<Utc>,
    /// `TRANSACTION.SUCCESS`, `trade_status_sync`, `poll`, `reconciliation`.
    pub event_type: String,
    pub raw_body: String,
    pub headers: serde_json::Value,
    /// Set when the caller's own checks failed (e.g. `wrong_merchant` for a foreign mchid):
    /// the report is recorded and raises a work order, nothing is credited.
    pub rejected: Option<&'static str>,
}

/// What happened to a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreditOutcome {
    Credited {
        order_id: PaymentOrderId,
        entry_id: i64,
    },
    /// Already credited by this transaction: nothing changed.
    Duplicate { order_id: PaymentOrderId },
    /// Recorded, not credited, work order opened.
    Rejected { reason: &'static str },
}

impl CreditOutcome {
    fn label(&self) -> &'static str {
        match self {
            Self::Credited { .. } => "credited",
            Self::Duplicate { .. } => "duplicate",
            Self::Rejected { reason } => reason,
        }
    }
}

fn check(order: &PaymentOrder, merchant: &Merchant, report: &PaidReport) -> Option<&'static str> {
    if report.rejected.is_some() {
        return report.rejected;
    }
    if order.merchant_id != merchant.id {
        return Some("wrong_merchant");
    }
    if order.amount_fen != report.amount_fen {
        return Some("amount_mismatch");
    }
    if order.status == PaymentStatus::Paid
        && order.provider_txn_id.as_deref() != Some(report.transaction_id.as_str())
    {
        return Some("second_payment");
    }
    None
}

/// Credits a confirmed payment of `merchant` (see the module docs).
#[tracing::instrument(skip_all, fields(org_id = %merchant.organization_id, out_trade_no = %report.out_trade_no))]
pub async fn credit_payment(
    db: &DatabaseConnection,
    merchant: &Merchant,
    report: &PaidReport,
) -> Result<CreditOutcome, PaymentError> {
    let org = merchant.organization_id;
    let txn = db.begin().await?;
    let order = payment::lock_order_by_out_trade_no(&txn, org, &report.out_trade_no).await?;
    let outcome = match &order {
        None => CreditOutcome::Rejected {
            reason: report.rejected.unwrap_or("unknown_order"),
        },
        Some(order) => match check(order, merchant, report) {
            Some(reason) => CreditOutcome::Rejected { reason },
            None if order.status == PaymentStatus::Paid => {
                CreditOutcome::Duplicate { order_id: order.id }
            }
            None => {
                let posting = ledger::post_in_txn(
                    &txn,
                    org,
                    NewEntry {
                        account_id: order.account_id,
                        kind: LedgerKind::Topup,
                        amount: Money::from_fen(order.amount_fen),
                        idempotency_key: format!("{}:{}", merchant.provider, report.transaction_id),
                        corrects: None,
                        memo: Some(format!("{} {}", merchant.provider, order.out_trade_no)),
                        created_by: None,
                    },
                )
                .await?;
                if posting.duplicate {
                    // The transaction id already paid another order: a provider-side mix-up.
                    CreditOutcome::Rejected {
                        reason: "transaction_reused",
                    }
                } else {
                    payment::mark_paid(&txn, org, order.id, &report.transaction_id, report.paid_at)
                        .await?;
                    outbox::enqueue(
                        &txn,
                        Some(org),
                        outbox::kind::BALANCE_CHANGED,
                        serde_json::json!({
                            "account_id": order.account_id,
                            "cause": "topup",
                            "order_id": order.id,
                            "amount": Money::from_fen(order.amount_fen).to_string(),
                        }),
                    )
                    .await?;
                    CreditOutcome::Credited {
                        order_id: order.id,
                        entry_id: posting.entry.id.0,
                    }
                }
            }
        },
    };
    payment::record_notification(
        &txn,
        NewNotification {
            organization_id: Some(org),
            merchant_id: Some(merchant.id),
            provider: merchant.provider.clone(),
            order_id: order.as_ref().map(|o| o.id),
            out_trade_no: Some(report.out_trade_no.clone()),
            provider_txn_id: Some(report.transaction_id.clone()),
            event_type: report.event_type.clone(),
            raw_body: report.raw_body.clone(),
            headers: report.headers.clone(),
            verified: true,
            outcome: outcome.label().to_owned(),
            detail: Some(format!("confirmed amount {} fen", report.amount_fen)),
        },
    )
    .await?;
    if let CreditOutcome::Rejected { reason } = &outcome {
        payment::open_work_order(
            &txn,
            org,
            WORK_ORDER_KIND,
            &format!("Payment not credited: {reason}"),
            &format!(
                "{} transaction {} for out_trade_no {} ({} fen) was verified but not credited: {reason}. Check it and refund or credit by hand.",
                merchant.provider, report.transaction_id, report.out_trade_no, report.amount_fen
            ),
            order.as_ref().map(|o| o.account_id),
        )
        .await?;
        tracing::warn!(reason, transaction_id = %report.transaction_id, "verified payment not credited");
    }
    txn.commit().await?;
    Ok(outcome)
}
