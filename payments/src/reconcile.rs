//! Reconciliation: a provider's daily bill matched line by line against our orders and ledger.
//! A paid order we never credited is credited through [`crate::credit`] (with an audit entry);
//! every other difference (unknown order, other amount, a payment we credited that the bill
//! lacks) becomes a work order. Importing the same bill again changes nothing.

pub mod bill;

use chrono::{Duration, NaiveDate, TimeZone as _};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use store::payment::{self, MerchantId, PaymentStatus};
use store::reconciliation::{self as lines, NewLine};
use store::OrgId;
use utoipa::ToSchema;

use crate::credit::{credit_payment, CreditOutcome, PaidReport, WORK_ORDER_KIND};
use crate::error::PaymentError;
use bill::BillLine;

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReconReport {
    pub matched: usize,
    pub repaired: usize,
    pub open: usize,
    /// Lines an earlier import of the same bill already handled.
    pub already_reconciled: usize,
}

async fn raise(
    db: &DatabaseConnection,
    org: OrgId,
    title: &str,
    detail: String,
) -> Result<(), PaymentError> {
    payment::open_work_order(db, org, WORK_ORDER_KIND, title, &detail, None).await?;
    Ok(())
}

/// Imports the bill of `date` (China time) for a merchant; `bytes` as the provider publishes it.
#[tracing::instrument(skip_all, fields(org_id = %org, %merchant_id, %date))]
pub async fn import_bill(
    db: &DatabaseConnection,
    org: OrgId,
    merchant_id: MerchantId,
    date: NaiveDate,
    bytes: &[u8],
) -> Result<ReconReport, PaymentError> {
    let merchant = store::merchant::get(db, org, merchant_id).await?;
    let text = bill::decode(bytes);
    let bill_lines = match merchant.provider.as_str() {
        "alipay" => bill::alipay_statement(&text)?,
        _ => bill::wechat_trade_bill(&text)?,
    };
    let mut report = ReconReport::default();
    let date_text = date.to_string();
    for line in &bill_lines {
        if lines::is_recorded(db, org, merchant.id, &line.transaction_id).await? {
            report.already_reconciled += 1;
            continue;
        }
        let outcome = reconcile_line(db, &merchant, line).await?;
        match outcome {
            "matched" => report.matched += 1,
            "repaired" => report.repaired += 1,
            _ => report.open += 1,
        }
        lines::record_line(
            db,
            org,
            NewLine {
                merchant_id: merchant.id,
                bill_date: date_text.clone(),
                out_trade_no: line.out_trade_no.clone(),
                provider_txn_id: line.transaction_id.clone(),
                amount_fen: line.amount_fen,
                outcome: outcome.to_owned(),
                detail: None,
            },
        )
        .await?;
    }
    // Payments we credited that the provider's bill does not know.
    let china = chrono_tz::Asia::Shanghai;
    let from = china
        .from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(|| PaymentError::rejected("invalid_date", "no such day"))?;
    for order in lines::paid_between(db, org, merchant.id, from, from + Duration::days(1)).await? {
        let txn = order.provider_txn_id.clone().unwrap_or_default();
        if bill_lines.iter().any(|l| l.transaction_id == txn) {
            continue;
        }
        let new = lines::record_line(
            db,
            org,
            NewLine {
                merchant_id: merchant.id,
                bill_date: date_text.clone(),
                out_trade_no: order.out_trade_no.clone(),
                provider_txn_id: txn.clone(),
                amount_fen: order.amount_fen,
                outcome: "open".to_owned(),
                detail: Some("credited but missing from the bill".to_owned()),
            },
        )
        .await?;
        if new {
            report.open += 1;
            raise(
                db,
                org,
                "Credited payment missing from the provider bill",
                format!("order {} (transaction {txn}, {} fen) was credited but is not in the {date} bill", order.out_trade_no, order.amount_fen),
            )
            .await?;
        }
    }
    Ok(report)
}

async fn reconcile_line(
    db: &DatabaseConnection,
    merchant: &store::merchant::Merchant,
    line: &BillLine,
) -> Result<&'static str, PaymentError> {
    let org = merchant.organization_id;
    let order = payment::find_by_out_trade_no(db, org, &line.out_trade_no).await?;
    let Some(order) = order.filter(|o| o.merchant_id == merchant.id) else {
        raise(
            db,
            org,
            "Provider bill line without an order",
            format!(
                "{} transaction {} for {} ({} fen) matches no order of this merchant",
                merchant.provider, line.transaction_id, line.out_trade_no, line.amount_fen
            ),
        )
        .await?;
        return Ok("open");
    };
    if order.status == PaymentStatus::Paid
        && order.provider_txn_id.as_deref() == Some(line.transaction_id.as_str())
        && order.amount_fen == line.amount_fen
    {
        return Ok("matched");
    }
    if order.status != PaymentStatus::Paid && order.amount_fen == line.amount_fen {
        let outcome = credit_payment(
            db,
            merchant,
            &PaidReport {
                out_trade_no: line.out_trade_no.clone(),
                transaction_id: line.transaction_id.clone(),
                amount_fen: line.amount_fen,
                paid_at: chrono::Utc::now(),
                event_type: "reconciliation".to_owned(),
                raw_body: format!("{line:?}"),
                headers: serde_json::json!({}),
                rejected: None,
            },
        )
        .await?;
        if let CreditOutcome::Credited { .. } = outcome {
            store::audit::record(db, Some(org), None, "payment.reconciled", "payment_order", &order.id.to_string(), serde_json::json!({"transaction_id": line.transaction_id, "amount_fen": line.amount_fen, "was": order.status})).await?;
            return Ok("repaired");
        }
        return Ok("open");
    }
    raise(
        db,
        org,
        "Provider bill disagrees with our order",
        format!(
            "order {} is {:?} with {} fen and transaction {:?}; the bill says {} fen by {}",
            order.out_trade_no,
            order.status,
            order.amount_fen,
            order.provider_txn_id,
            line.amount_fen,
            line.transaction_id
        ),
    )
    .await?;
    Ok("open")
}
