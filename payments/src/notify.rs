//! Handling provider notifications: find the merchant named in the URL, verify with its keys,
//! check, credit through [`crate::credit`], and say how to answer the provider.
//!
//! An unverified notification changes nothing and is not recorded as a payment: it is logged
//! with its source address and counted. A verified one is always recorded before we answer
//! success, so the provider stops retrying only once we hold it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::Money;
use sea_orm::DatabaseConnection;
use store::merchant::Merchant;
use store::payment::{self, MerchantId, NewNotification};

use crate::alipay::sign::verify_notification as verify_alipay;
use crate::credit::{credit_payment, CreditOutcome, PaidReport};
use crate::error::PaymentError;
use crate::merchant::MerchantKeys;
use crate::metrics;
use crate::wechat::notify::{verify_notification, SignedHeaders};
use crate::wechat::Transaction;
use crate::Clients;

/// How to answer the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyAnswer {
    /// WeChat: 204; Alipay: `success`.
    Ok,
    /// WeChat: this status with `{"code":"FAIL","message"}`; Alipay: `fail`.
    Fail { status: u16, message: String },
}

impl NotifyAnswer {
    fn fail(status: u16, message: impl Into<String>) -> Self {
        Self::Fail {
            status,
            message: message.into(),
        }
    }
}

async fn merchant_for(
    db: &DatabaseConnection,
    provider: &str,
    merchant_id: &str,
) -> Result<Merchant, NotifyAnswer> {
    let not_found = || NotifyAnswer::fail(404, "unknown merchant");
    let id: MerchantId = merchant_id.parse().map_err(|_| not_found())?;
    let merchant = store::merchant::get_for_notification(db, id)
        .await
        .map_err(|e| match e {
            store::StoreError::NotFound => not_found(),
            other => {
                tracing::error!(error = %other, "loading merchant for notification");
                NotifyAnswer::fail(500, "temporarily unavailable")
            }
        })?;
    if merchant.provider != provider || !merchant.enabled {
        return Err(not_found());
    }
    Ok(merchant)
}

fn internal(e: &PaymentError) -> NotifyAnswer {
    tracing::error!(error = %e, "payment notification failed");
    NotifyAnswer::fail(500, "temporarily unavailable")
}

fn count(outcome: &CreditOutcome) {
    metrics::inc(match outcome {
        CreditOutcome::Credited { .. } => &metrics::CREDITED,
        CreditOutcome::Duplicate { .. } => &metrics::DUPLICATES,
        CreditOutcome::Rejected { .. } => &metrics::REJECTED,
    });
}

/// A WeChat Pay v3 (or sandbox) notification to `/api/v1/pay/notify/{provider}/{merchant_id}`.
#[tracing::instrument(skip_all, fields(provider, merchant_id))]
#[allow(clippy::too_many_arguments)] // one call site per provider route; a struct adds nothing
pub async fn handle_wechat(
    db: &DatabaseConnection,
    clients: &Clients,
    provider: &str,
    merchant_id: &str,
    headers: &SignedHeaders,
    body: &[u8],
    source: &str,
    now: DateTime<Utc>,
) -> NotifyAnswer {
    let merchant = match merchant_for(db, provider, merchant_id).await {
        Ok(m) => m,
        Err(answer) => return answer,
    };
    let keys = match clients.keys(&merchant) {
        Ok(k) => k,
        Err(e) => return internal(&e),
    };
    let Some(wechat) = keys.wechat() else {
        return NotifyAnswer::fail(404, "unknown merchant");
    };
    let verified = match verify_notification(wechat, headers, body, now) {
        Ok(v) => v,
        Err(e) => {
            metrics::inc(&metrics::UNVERIFIED_NOTIFICATIONS);
            tracing::warn!(source, error = %e, "refused an unverified payment notification");
            return NotifyAnswer::fail(401, format!("verification failed: {e}"));
        }
    };
    let raw_body = String::from_utf8_lossy(body).into_owned();
    let event_type = verified.envelope.event_type.clone();
    if event_type.starts_with("REFUND.") {
        return match crate::refund::settle_wechat(
            db,
            &merchant,
            &verified.resource,
            &raw_body,
            &event_type,
        )
        .await
        {
            Ok(()) => NotifyAnswer::Ok,
            Err(e) => internal(&e),
        };
    }
    let txn: Transaction = match serde_json::from_value(verified.resource.clone()) {
        Ok(t) => t,
        Err(e) => return NotifyAnswer::fail(400, format!("resource is not a transaction: {e}")),
    };
    let rejected = if txn.mchid != wechat.mchid || txn.appid != wechat.appid {
        Some("wrong_merchant")
    } else {
        None
    };
    if txn.trade_state != "SUCCESS" {
        let recorded = payment::record_notification(
            db,
            NewNotification {
                organization_id: Some(merchant.organization_id),
                merchant_id: Some(merchant.id),
                provider: merchant.provider.clone(),
                out_trade_no: Some(txn.out_trade_no.clone()),
                provider_txn_id: txn.transaction_id.clone(),
                event_type,
                raw_body,
                headers: headers.to_json(),
                verified: true,
                outcome: "not_paid".to_owned(),
                detail: Some(format!("trade_state {}", txn.trade_state)),
                ..NewNotification::default()
            },
        )
        .await;
        return match recorded {
            Ok(_) => NotifyAnswer::Ok,
            Err(e) => internal(&e.into()),
        };
    }
    let report = PaidReport {
        out_trade_no: txn.out_trade_no.clone(),
        transaction_id: txn.transaction_id.clone().unwrap_or_default(),
        amount_fen: txn.amount.as_ref().map_or(-1, |a| a.total),
        paid_at: now,
        event_type,
        raw_body,
        headers: headers.to_json(),
        rejected,
    };
    if report.transaction_id.is_empty() {
        return NotifyAnswer::fail(400, "transaction_id is missing");
    }
    match credit_payment(db, &merchant, &report).await {
        Ok(outcome) => {
            count(&outcome);
            NotifyAnswer::Ok
        }
        Err(e) => internal(&e),
    }
}

/// An Alipay asynchronous notification (form body) to `/api/v1/pay/notify/alipay/{merchant_id}`.
#[tracing::instrument(skip_all, fields(merchant_id))]
pub async fn handle_alipay(
    db: &DatabaseConnection,
    clients: &Clients,
    merchant_id: &str,
    body: &[u8],
    source: &str,
    now: DateTime<Utc>,
) -> NotifyAnswer {
    let merchant = match merchant_for(db, "alipay", merchant_id).await {
        Ok(m) => m,
        Err(answer) => return answer,
    };
    let keys = match clients.keys(&merchant) {
        Ok(MerchantKeys::Alipay(k)) => k,
        Ok(_) => return NotifyAnswer::fail(404, "unknown merchant"),
        Err(e) => return internal(&e),
    };
    let params = match verify_alipay(&keys.alipay_public_key, body) {
        Ok(p) => p,
        Err(e) => {
            metrics::inc(&metrics::UNVERIFIED_NOTIFICATIONS);
            tracing::warn!(source, error = %e, "refused an unverified Alipay notification");
            return NotifyAnswer::fail(400, format!("verification failed: {e}"));
        }
    };
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let raw_body = params_text(&params);
    let status = get("trade_status");
    if status != "TRADE_SUCCESS" && status != "TRADE_FINISHED" {
        let recorded = payment::record_notification(
            db,
            NewNotification {
                organization_id: Some(merchant.organization_id),
                merchant_id: Some(merchant.id),
                provider: merchant.provider.clone(),
                out_trade_no: Some(get("out_trade_no")),
                provider_txn_id: Some(get("trade_no")),
                event_type: get("notify_type"),
                raw_body,
                headers: serde_json::json!({}),
                verified: true,
                outcome: "not_paid".to_owned(),
                detail: Some(format!("trade_status {status}")),
                ..NewNotification::default()
            },
        )
        .await;
        return match recorded {
            Ok(_) => NotifyAnswer::Ok,
            Err(e) => internal(&e.into()),
        };
    }
    let seller_ok = keys
        .seller_id
        .as_deref()
        .is_none_or(|s| s == get("seller_id"));
    let rejected = if get("app_id") != keys.app_id || !seller_ok {
        Some("wrong_merchant")
    } else {
        None
    };
    // Decimal yuan to fen, never through a float; a malformed amount cannot match an order.
    let amount_fen = Money::parse_amount(&get("total_amount"))
        .ok()
        .and_then(|m| m.to_fen().ok())
        .unwrap_or(-1);
    let report = PaidReport {
        out_trade_no: get("out_trade_no"),
        transaction_id: get("trade_no"),
        amount_fen,
        paid_at: now,
        event_type: get("notify_type"),
        raw_body,
        headers: serde_json::json!({"notify_id": get("notify_id")}),
        rejected,
    };
    if report.transaction_id.is_empty() || report.out_trade_no.is_empty() {
        return NotifyAnswer::fail(400, "trade_no or out_trade_no is missing");
    }
    match credit_payment(db, &merchant, &report).await {
        Ok(outcome) => {
            count(&outcome);
            NotifyAnswer::Ok
        }
        Err(e) => internal(&e),
    }
}

/// The decoded parameters as JSON text (the raw body may be GBK; this keeps it readable).
fn params_text(params: &BTreeMap<String, String>) -> String {
    serde_json::to_string(params).unwrap_or_default()
}
