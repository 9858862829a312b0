//! The order-polling job: orders with no notification are asked about (WeChat order query,
//! Alipay `alipay.trade.query`) with backoff until paid, closed or expired. A paid answer
//! credits through [`crate::credit`], so a poll racing a notification credits once.
//! The worker calls [`poll_due_orders`] on its schedule; tests call it directly with `now`.

use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseConnection;
use store::payment::{self, PaymentOrder, PaymentStatus};

use crate::credit::{credit_payment, CreditOutcome, PaidReport};
use crate::error::PaymentError;
use crate::merchant::MerchantKeys;
use crate::Clients;

/// Orders handled per call.
pub const BATCH: u64 = 100;
/// How long after expiry an order is still asked about (a payment made at the last second).
pub const GRACE_AFTER_EXPIRY_SECS: i64 = 300;

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollReport {
    pub polled: usize,
    pub credited: usize,
    pub closed: usize,
    pub expired: usize,
    pub failed: usize,
}

/// What the provider says about an order.
enum Remote {
    Paid {
        transaction_id: String,
        amount_fen: i64,
        raw: String,
    },
    Closed,
    Waiting,
}

/// Backoff: 1, 2, 4, 8 minutes, then every 10 minutes.
fn next_poll(now: DateTime<Utc>, attempts: i32) -> DateTime<Utc> {
    let minutes = 1i64 << attempts.clamp(0, 4);
    now + Duration::minutes(minutes.min(10))
}

async fn ask(
    clients: &Clients,
    keys: &MerchantKeys,
    order: &PaymentOrder,
) -> Result<Remote, PaymentError> {
    match keys {
        // The sandbox has no server to ask: it notifies when paid, or never.
        MerchantKeys::Sandbox(..) => Ok(Remote::Waiting),
        MerchantKeys::Wechat(k) => Ok(match clients.wechat(k).query(&order.out_trade_no).await? {
            Some(t) if t.trade_state == "SUCCESS" => Remote::Paid {
                raw: serde_json::json!({"trade_state": t.trade_state, "transaction_id": t.transaction_id, "mchid": t.mchid, "appid": t.appid, "amount": t.amount.as_ref().map(|a| a.total)}).to_string(),
                transaction_id: t.transaction_id.unwrap_or_default(),
                amount_fen: t.amount.map_or(-1, |a| a.total),
            },
            Some(t) if matches!(t.trade_state.as_str(), "CLOSED" | "REVOKED" | "PAYERROR") => Remote::Closed,
            _ => Remote::Waiting,
        }),
        MerchantKeys::Alipay(k) => Ok(match clients.alipay(k).query(&order.out_trade_no).await? {
            Some(t) if t.trade_status == "TRADE_SUCCESS" || t.trade_status == "TRADE_FINISHED" => Remote::Paid {
                raw: serde_json::json!({"trade_status": t.trade_status, "trade_no": t.trade_no, "total_fen": t.total_fen}).to_string(),
                transaction_id: t.trade_no,
                amount_fen: t.total_fen,
            },
            Some(t) if t.trade_status == "TRADE_CLOSED" => Remote::Closed,
            _ => Remote::Waiting,
        }),
    }
}

async fn poll_one(
    db: &DatabaseConnection,
    clients: &Clients,
    order: &PaymentOrder,
    now: DateTime<Utc>,
    report: &mut PollReport,
) -> Result<(), PaymentError> {
    let org = order.organization_id;
    let merchant = store::merchant::get(db, org, order.merchant_id).await?;
    let keys = clients.keys(&merchant)?;
    match ask(clients, &keys, order).await? {
        Remote::Paid {
            transaction_id,
            amount_fen,
            raw,
        } => {
            let outcome = credit_payment(
                db,
                &merchant,
                &PaidReport {
                    out_trade_no: order.out_trade_no.clone(),
                    transaction_id,
                    amount_fen,
                    paid_at: now,
                    event_type: "poll".to_owned(),
                    raw_body: raw,
                    headers: serde_json::json!({}),
                    rejected: None,
                },
            )
            .await?;
            if matches!(outcome, CreditOutcome::Credited { .. }) {
                report.credited += 1;
            }
        }
        Remote::Closed => {
            if payment::finish_unpaid(db, org, order.id, PaymentStatus::Closed).await? {
                report.closed += 1;
            }
        }
        Remote::Waiting => {
            if now > order.expires_at + Duration::seconds(GRACE_AFTER_EXPIRY_SECS) {
                if payment::finish_unpaid(db, org, order.id, PaymentStatus::Expired).await? {
                    report.expired += 1;
                }
            } else {
                payment::schedule_poll(db, org, order.id, next_poll(now, order.poll_attempts))
                    .await?;
            }
        }
    }
    Ok(())
}

/// Polls every pending order whose next poll is due at `now`.
#[tracing::instrument(skip_all)]
pub async fn poll_due_orders(
    db: &DatabaseConnection,
    clients: &Clients,
    now: DateTime<Utc>,
) -> Result<PollReport, PaymentError> {
    let mut report = PollReport::default();
    for order in payment::due_for_poll(db, now, BATCH).await? {
        report.polled += 1;
        if let Err(e) = poll_one(db, clients, &order, now, &mut report).await {
            report.failed += 1;
            tracing::warn!(order_id = %order.id, error = %e, "polling a payment order failed");
            payment::schedule_poll(
                db,
                order.organization_id,
                order.id,
                next_poll(now, order.poll_attempts),
            )
            .await?;
        }
    }
    Ok(report)
}
