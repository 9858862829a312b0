//! The counter desk (营业厅): payments, reversals (冲正) and adjustments, each one transaction
//! (ledger entry, receipt with the next per-organization number, `account.balance_changed`
//! outbox row, audit record; see `store::counter`).
//!
//! Reversal policy (PAYMENTS.md): only a payment, only on the business day it was taken (China
//! time), by the cashier who took it or an org admin, once; refused when it would take the
//! balance below the account's trip threshold unless an org admin overrides.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone as _, Utc};
use domain::{Money, Role};
use sea_orm::{DatabaseConnection, TransactionTrait as _};
use store::counter::{NewReceipt, Outcome, PaymentMethod, Receipt, ReceiptKind};
use store::{AccountId, LedgerEntryId, OrgId, UserId};
use uuid::Uuid;

use crate::auth::OrgContext;
use crate::error::ApiError;

/// China Standard Time: the business day of the counter (no daylight saving).
pub fn business_tz() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("+08:00 is a valid offset"))
}

/// `[start, end)` of a business day in UTC.
pub fn business_day(date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = business_tz()
        .from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
        .single()
        .map_or_else(Utc::now, |d| d.with_timezone(&Utc));
    (start, start + chrono::Duration::days(1))
}

/// How many receipts of a group and their signed total (fen).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sum {
    pub count: u64,
    pub fen: i64,
}

impl Sum {
    fn add(&mut self, fen: i64) {
        self.count += 1;
        self.fen += fen;
    }
}

/// The cashier's day-end report (日结) of one business day: the REST report, its CSV and the
/// page all come from this.
#[derive(Clone, Debug)]
pub struct DayEnd {
    pub date: NaiveDate,
    /// Every receipt of the day, in number order.
    pub receipts: Vec<Receipt>,
    /// Payments by method (`cash`, `card`, `transfer`).
    pub by_method: std::collections::BTreeMap<String, Sum>,
    /// Payments by cashier id (empty string when none).
    pub by_cashier: std::collections::BTreeMap<String, Sum>,
    pub payments: Sum,
    pub reversals: Sum,
    pub adjustments: Sum,
    /// Payments plus reversals plus adjustments.
    pub net_fen: i64,
}

/// Adds up the organization's receipts of a business day.
pub async fn day_end(
    db: &DatabaseConnection,
    scope: impl Into<store::Scope>,
    date: NaiveDate,
) -> Result<DayEnd, ApiError> {
    let (from, to) = business_day(date);
    let receipts = store::counter::between(db, scope, from, to).await?;
    let mut report = DayEnd {
        date,
        receipts: Vec::new(),
        by_method: std::collections::BTreeMap::new(),
        by_cashier: std::collections::BTreeMap::new(),
        payments: Sum::default(),
        reversals: Sum::default(),
        adjustments: Sum::default(),
        net_fen: 0,
    };
    for r in &receipts {
        report.net_fen += r.amount_fen;
        match r.kind.as_str() {
            "payment" => {
                report.payments.add(r.amount_fen);
                let method = r.method.clone().unwrap_or_else(|| "-".to_owned());
                report
                    .by_method
                    .entry(method)
                    .or_default()
                    .add(r.amount_fen);
                let cashier = r.cashier_id.map(|c| c.to_string()).unwrap_or_default();
                report
                    .by_cashier
                    .entry(cashier)
                    .or_default()
                    .add(r.amount_fen);
            }
            "reversal" => report.reversals.add(r.amount_fen),
            _ => report.adjustments.add(r.amount_fen),
        }
    }
    report.receipts = receipts;
    Ok(report)
}

fn map(e: store::StoreError) -> ApiError {
    match e {
        store::StoreError::NotFound => ApiError::not_found("account_not_found", "account"),
        store::StoreError::Duplicate => ApiError::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
        ),
        store::StoreError::Invalid(d) if d.contains("closed") => {
            ApiError::conflict("account_closed", d)
        }
        other => other.into(),
    }
}

/// Takes a counter payment. A repeated key answers the first receipt (`duplicate`).
#[allow(clippy::too_many_arguments)]
pub async fn take_payment(
    db: &DatabaseConnection,
    scope: impl Into<store::Scope>,
    cashier: UserId,
    account: AccountId,
    amount: Money,
    method: PaymentMethod,
    note: Option<String>,
    idempotency_key: &str,
) -> Result<Outcome, ApiError> {
    let txn = db.begin().await?;
    let outcome = store::counter::post_receipt(
        &txn,
        scope,
        NewReceipt {
            account_id: account,
            kind: ReceiptKind::Payment(method),
            amount,
            note,
            idempotency_key: idempotency_key.to_owned(),
            cashier: Some(cashier),
        },
    )
    .await
    .map_err(map)?;
    txn.commit().await?;
    Ok(outcome)
}

/// An org admin's adjustment (credit or debit) with a reason.
pub async fn adjust(
    db: &DatabaseConnection,
    ctx: &OrgContext,
    account: AccountId,
    signed_amount: Money,
    reason: String,
    idempotency_key: &str,
) -> Result<Outcome, ApiError> {
    let txn = db.begin().await?;
    let outcome = store::counter::post_receipt(
        &txn,
        ctx.scope(),
        NewReceipt {
            account_id: account,
            kind: ReceiptKind::Adjustment,
            amount: signed_amount,
            note: Some(reason),
            idempotency_key: idempotency_key.to_owned(),
            cashier: Some(ctx.user_id),
        },
    )
    .await
    .map_err(map)?;
    txn.commit().await?;
    Ok(outcome)
}

/// Reverses a payment receipt (冲正) under the policy in the module docs.
pub async fn reverse(
    db: &DatabaseConnection,
    ctx: &OrgContext,
    receipt_id: Uuid,
    reason: String,
    override_threshold: bool,
    now: DateTime<Utc>,
) -> Result<Outcome, ApiError> {
    let org = ctx.org_id;
    let original = store::counter::get(db, ctx.scope(), receipt_id)
        .await
        .map_err(|e| ApiError::from_store(e, "receipt_not_found", "receipt"))?;
    if let Some(done) = store::counter::reversal_of(db, ctx.scope(), receipt_id).await? {
        return Ok(Outcome {
            receipt: done,
            duplicate: true,
        });
    }
    check_policy(ctx, &original, override_threshold, now)?;
    let account = store::account::get(db, ctx.scope(), original.account_id).await?;
    let after = account.balance() - original.amount();
    if !override_threshold && after < trip_threshold(db, org, &account).await? {
        return Err(ApiError::conflict(
            "below_trip_threshold",
            format!(
                "the balance would be {after}, below the trip threshold; an org admin may override"
            ),
        ));
    }
    let txn = db.begin().await?;
    let outcome = store::counter::post_receipt(
        &txn,
        ctx.scope(),
        NewReceipt {
            account_id: original.account_id,
            kind: ReceiptKind::Reversal {
                receipt: original.id,
                entry: LedgerEntryId(original.ledger_entry_id),
            },
            amount: -original.amount(),
            note: Some(reason),
            idempotency_key: format!("reversal:{}", original.id),
            cashier: Some(ctx.user_id),
        },
    )
    .await
    .map_err(map)?;
    txn.commit().await?;
    Ok(outcome)
}

fn check_policy(
    ctx: &OrgContext,
    original: &Receipt,
    override_threshold: bool,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let supervisor = matches!(ctx.role, Role::OrgAdmin | Role::PlatformAdmin);
    if original.kind != "payment" {
        return Err(ApiError::conflict(
            "not_reversible",
            "only payments can be reversed",
        ));
    }
    if override_threshold && !supervisor {
        return Err(ApiError::Forbidden);
    }
    if original.cashier_id != Some(ctx.user_id) && !supervisor {
        return Err(ApiError::conflict(
            "not_your_receipt",
            "only the cashier who took the payment or an org admin may reverse it",
        ));
    }
    let day = |t: DateTime<Utc>| t.with_timezone(&business_tz()).date_naive();
    if day(original.created_at) != day(now) {
        return Err(ApiError::conflict(
            "reversal_window_closed",
            "a payment can only be reversed on the business day it was taken",
        ));
    }
    Ok(())
}

/// The account's trip threshold in force (its own, its site's or its organization's).
async fn trip_threshold(
    db: &DatabaseConnection,
    org: OrgId,
    account: &store::Account,
) -> Result<Money, ApiError> {
    let defaults = store::control_settings::Defaults::default();
    Ok(
        store::control_settings::effective_for_account(db, org, account, &defaults)
            .await?
            .trip_threshold
            .value,
    )
}
