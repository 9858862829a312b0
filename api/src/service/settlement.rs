//! Settlements: closing an account (销户) and replacing a meter, the two acts that end a meter's
//! or an account's charging. Both first rate the final reading now
//! ([`store::settlement::rate_through`], the worker's rules and idempotency keys), because
//! afterwards the worker would no longer charge the account for it.
//!
//! Closing then settles the balance to zero: a positive balance is refunded to the providers
//! that paid it (the refund path of `payments`, with its holds and approval limit; what online
//! payments do not cover is refunded in cash) or in cash at the counter; a negative balance is
//! collected as a counter payment. The account is closed only at exactly zero (so
//! `sum(ledger) == balance` and nothing is left behind), its meters are tripped unless power is
//! kept, and its unit is free for the next account.

use chrono::{DateTime, Duration, Utc};
use domain::{Money, Role};
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait as _};
use store::counter::{NewReceipt, PaymentMethod, ReceiptKind};
use store::ledger::NewEntry;
use store::manual_reading::{NewManualReading, Purpose};
use store::payment::PaymentStatus;
use store::settlement::Rated;
use store::{Account, AccountId, AccountStatus, LedgerKind, Meter, OrgId, UserId};

use crate::auth::OrgContext;
use crate::error::ApiError;
use crate::routes::reading::refused;

/// How long a closing's trip command may wait for its gateway.
const TRIP_TTL_MINUTES: i64 = 60;

/// The meters of a unit still in service.
pub async fn meters_in_service(
    conn: &impl sea_orm::ConnectionTrait,
    org: OrgId,
    account: &Account,
) -> Result<Vec<Meter>, ApiError> {
    let filter = store::meter::MeterFilter {
        unit_id: Some(account.unit_id),
        ..Default::default()
    };
    let meters = store::meter::list_filtered(conn, org, &filter, store::Page::all())
        .await?
        .items;
    let ids: Vec<_> = meters.iter().map(|m| m.id).collect();
    let retired = store::meter_retirement::retired_among(conn, org, &ids).await?;
    Ok(meters
        .into_iter()
        .filter(|m| !retired.contains(&m.id))
        .collect())
}

/// Enters the final reading of `meter` (when given) and rates it and everything before it,
/// charging `account`. Answers the amount charged.
pub async fn rate_final(
    txn: &DatabaseTransaction,
    org: OrgId,
    account: &Account,
    meter: &Meter,
    final_reading: Option<(DateTime<Utc>, i64)>,
    actor: UserId,
    note: Option<String>,
) -> Result<Money, ApiError> {
    let through = match final_reading {
        Some((ts, energy_wh)) => {
            let entered = store::manual_reading::enter(
                txn,
                org,
                NewManualReading {
                    meter_id: meter.id,
                    ts,
                    energy_wh,
                    purpose: Purpose::Final,
                    entered_by: Some(actor),
                    note,
                },
            )
            .await?;
            if let Some(e) = refused(&entered) {
                return Err(e);
            }
            ts
        }
        None => Utc::now(),
    };
    match store::settlement::rate_through(txn, org, meter, account, through).await? {
        Rated::Charged { charged, .. } => Ok(charged),
        Rated::Suspended => Err(ApiError::conflict(
            "meter_suspended",
            format!(
                "charging of meter {} is suspended after an anomaly: resolve it (reset the \
                 baseline) first",
                meter.wire_id
            ),
        )),
        Rated::Untrusted(kind) => Err(ApiError::unprocessable(
            "reading_not_trusted",
            format!(
                "the reading of meter {} is not trusted: {kind:?}",
                meter.wire_id
            ),
        )),
        Rated::NoTariff => Err(ApiError::unprocessable(
            "no_tariff",
            "the account has no tariff: set one before settling its readings",
        )),
    }
}

/// How a closing settles a non-zero balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// Refund to the providers that paid (what they do not cover, in cash).
    Refund,
    /// Refund everything in cash at the counter.
    CashRefund,
    /// Collect a negative balance as a counter payment.
    Collect,
}

/// A closing as requested.
#[derive(Clone, Debug)]
pub struct CloseRequest {
    /// The unit's meter register at closing, Wh (the unit must have exactly one meter).
    pub final_reading_wh: Option<i64>,
    pub settlement: Settlement,
    pub method: PaymentMethod,
    pub note: Option<String>,
    pub keep_power: bool,
}

/// A provider refund made by a closing.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ClosingRefund {
    pub refund_id: uuid::Uuid,
    pub order_id: uuid::Uuid,
    pub provider: String,
    pub amount: String,
    /// `processing`, `succeeded`, `failed` or `pending_approval` (the amount stays held).
    pub status: String,
}

/// The settlement statement of a closed account.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ClosingStatement {
    pub account_id: uuid::Uuid,
    pub account_no: String,
    /// The final register entered, kWh, with its meter.
    pub final_reading_kwh: Option<String>,
    pub final_meter_id: Option<uuid::Uuid>,
    /// Charged for consumption up to the final reading.
    pub charged: String,
    /// The balance after the final charge, before settling.
    pub balance_before_settlement: String,
    pub refunds: Vec<ClosingRefund>,
    /// Refunded in cash at the counter.
    pub cash_refunded: String,
    /// Collected at the counter (a negative balance).
    pub collected: String,
    /// The counter receipt of a collection.
    pub receipt_no: Option<i64>,
    /// Always `0.00`.
    pub closing_balance: String,
    pub status: String,
    pub closed_at: Option<DateTime<Utc>>,
    /// Trip commands queued for the unit's meters (none with `keep_power`).
    pub trip_commands: Vec<uuid::Uuid>,
}

/// Closes an account with its final settlement. See the module docs.
pub async fn close_account(
    db: &DatabaseConnection,
    clients: &payments::Clients,
    ctx: &OrgContext,
    id: AccountId,
    req: CloseRequest,
) -> Result<ClosingStatement, ApiError> {
    let org = ctx.org_id;
    let scope = ctx.scope();
    let account = store::account::get(db, scope, id)
        .await
        .map_err(crate::routes::account::not_found)?;
    if account.status == AccountStatus::Closed {
        return Err(closed());
    }
    let meters = meters_in_service(db, org, &account).await?;
    let final_meter = match (req.final_reading_wh, meters.as_slice()) {
        (None, _) => None,
        (Some(wh), [m]) => Some((m.clone(), wh)),
        (Some(_), []) => {
            return Err(ApiError::unprocessable(
                "no_meter",
                "the unit has no meter to take a final reading of",
            ))
        }
        (Some(_), _) => {
            return Err(ApiError::unprocessable(
                "meter_ambiguous",
                "the unit has several meters: enter their final readings as manual readings \
                 first, then close without final_reading_kwh",
            ))
        }
    };
    // 1. Rate everything up to the final reading.
    let now = Utc::now();
    let (charged, account) = {
        let (account, meters, final_meter) = (account.clone(), meters.clone(), final_meter.clone());
        let (actor, note, settlement) = (ctx.user_id, req.note.clone(), req.settlement);
        db.transaction::<_, (Money, Account), ApiError>(|txn| {
            Box::pin(async move {
                let mut charged = Money::ZERO;
                for m in &meters {
                    let reading = final_meter
                        .as_ref()
                        .filter(|(f, _)| f.id == m.id)
                        .map(|(_, wh)| (now, *wh));
                    charged +=
                        rate_final(txn, org, &account, m, reading, actor, note.clone()).await?;
                }
                let account = store::account::get(txn, org, account.id).await?;
                if account.status == AccountStatus::Closed {
                    return Err(closed());
                }
                // A settlement that does not fit the balance changes nothing (rolled back).
                check_settlement(account.balance(), settlement)?;
                Ok((charged, account))
            })
        })
        .await?
    };
    let before = account.balance();
    let mut refunds = Vec::new();
    let mut cash_refund = Money::ZERO;
    let mut collect = Money::ZERO;
    match (before.cmp(&Money::ZERO), req.settlement) {
        (std::cmp::Ordering::Greater, Settlement::Refund) => {
            cash_refund = refund_to_providers(db, clients, ctx, &account, &mut refunds).await?;
        }
        (std::cmp::Ordering::Greater, _) => cash_refund = before,
        (std::cmp::Ordering::Less, _) => collect = -before,
        (std::cmp::Ordering::Equal, _) => {}
    }
    // 2. Settle the rest and close, at exactly zero.
    let statement_base = (charged, before, refunds, cash_refund, collect);
    let (actor, method, note, keep_power) = (ctx.user_id, req.method, req.note, req.keep_power);
    let final_kwh = final_meter
        .as_ref()
        .map(|(m, wh)| (m.id, crate::routes::me::kwh(*wh)));
    let (closed_account, receipt_no, trips) = db
        .transaction::<_, (Account, Option<i64>, Vec<uuid::Uuid>), ApiError>(|txn| {
            Box::pin(async move {
                let mut receipt_no = None;
                if cash_refund > Money::ZERO {
                    store::ledger::post_in_txn(
                        txn,
                        org,
                        NewEntry {
                            account_id: id,
                            kind: LedgerKind::Refund,
                            amount: -cash_refund,
                            idempotency_key: format!("closing-cash-refund:{id}"),
                            corrects: None,
                            memo: Some(format!(
                                "销户现金退款 cash refund at closing{}",
                                note.as_deref()
                                    .map(|n| format!(": {n}"))
                                    .unwrap_or_default()
                            )),
                            created_by: Some(actor),
                        },
                    )
                    .await?;
                }
                if collect > Money::ZERO {
                    let outcome = store::counter::post_receipt(
                        txn,
                        scope,
                        NewReceipt {
                            account_id: id,
                            kind: ReceiptKind::Payment(method),
                            amount: collect,
                            note: Some(format!(
                                "销户收取欠费 amount due at closing{}",
                                note.as_deref()
                                    .map(|n| format!(": {n}"))
                                    .unwrap_or_default()
                            )),
                            idempotency_key: format!("closing:{id}"),
                            cashier: Some(actor),
                        },
                    )
                    .await?;
                    receipt_no = Some(outcome.receipt.receipt_no);
                }
                let account = store::account::get(txn, scope, id).await?;
                if account.status == AccountStatus::Closed {
                    return Err(closed());
                }
                if account.balance_fen != 0 {
                    return Err(ApiError::conflict(
                        "balance_changed",
                        format!(
                            "the balance moved to ¥{} while settling (a payment arrived?): \
                             close again",
                            account.balance()
                        ),
                    ));
                }
                let account = store::account::close(txn, scope, id, Some(actor)).await?;
                let mut trips = Vec::new();
                if !keep_power {
                    for m in &meters {
                        let c = store::command::queue_command(
                            txn,
                            scope,
                            m.id,
                            store::command::CommandAction::Trip,
                            Utc::now() + Duration::minutes(TRIP_TTL_MINUTES),
                            Some(actor),
                        )
                        .await?;
                        trips.push(c.id.into());
                    }
                }
                Ok((account, receipt_no, trips))
            })
        })
        .await?;
    let (charged, before, refunds, cash_refund, collect) = statement_base;
    let statement = ClosingStatement {
        account_id: closed_account.id.into(),
        account_no: closed_account.account_no.clone(),
        final_reading_kwh: final_kwh.as_ref().map(|(_, k)| k.clone()),
        final_meter_id: final_kwh.map(|(m, _)| m.into()),
        charged: charged.to_string(),
        balance_before_settlement: before.to_string(),
        refunds,
        cash_refunded: cash_refund.to_string(),
        collected: collect.to_string(),
        receipt_no,
        closing_balance: closed_account.balance().to_string(),
        status: "closed".into(),
        closed_at: closed_account.closed_at,
        trip_commands: trips,
    };
    store::audit::record(
        db,
        Some(org),
        Some(ctx.user_id),
        "account.settle",
        "account",
        &id.to_string(),
        serde_json::to_value(&statement).unwrap_or_default(),
    )
    .await?;
    Ok(statement)
}

/// Whether `settlement` can settle `balance`: a positive balance is refunded, a negative one
/// collected.
fn check_settlement(balance: Money, settlement: Settlement) -> Result<(), ApiError> {
    if balance > Money::ZERO && settlement == Settlement::Collect {
        return Err(ApiError::unprocessable(
            "settlement_mismatch",
            format!("the balance is ¥{balance} in the tenant's favour: refund or cash_refund"),
        ));
    }
    if balance < Money::ZERO && settlement != Settlement::Collect {
        return Err(ApiError::unprocessable(
            "amount_due",
            format!(
                "¥{} is due: collect it with \"settlement\": \"collect\"",
                -balance
            ),
        ));
    }
    Ok(())
}

fn closed() -> ApiError {
    ApiError::conflict("account_closed", "this account is closed")
}

/// Refunds the balance to the providers that paid it, newest payment first, through the
/// refund path (each refund holds its amount at once). Answers what the paid orders could not
/// cover (refunded in cash by the caller).
async fn refund_to_providers(
    db: &DatabaseConnection,
    clients: &payments::Clients,
    ctx: &OrgContext,
    account: &Account,
    out: &mut Vec<ClosingRefund>,
) -> Result<Money, ApiError> {
    let org = ctx.org_id;
    let actor = payments::refund::Actor {
        user: ctx.user_id,
        org_admin: ctx.role == Role::OrgAdmin,
    };
    let orders = store::payment::list_orders(db, org, Some(account.id), store::Page::all())
        .await?
        .items;
    let mut left = account.balance_fen;
    for order in orders
        .into_iter()
        .filter(|o| o.status == PaymentStatus::Paid)
    {
        if left <= 0 {
            break;
        }
        let refundable = order.amount_fen - store::refund::committed_fen(db, org, order.id).await?;
        let amount = refundable.min(left);
        if amount <= 0 {
            continue;
        }
        let refund = payments::refund::request_refund(
            db,
            clients,
            org,
            actor,
            payments::refund::RefundRequest {
                order_id: order.id.into(),
                amount: Some(Money::from_fen(amount).to_string()),
                reason: "销户退款 refund at account closing".into(),
            },
        )
        .await
        .map_err(crate::pay::api_error)?;
        left -= refund.amount_fen;
        out.push(ClosingRefund {
            refund_id: refund.id.into(),
            order_id: order.id.into(),
            provider: order.provider.clone(),
            amount: Money::from_fen(refund.amount_fen).to_string(),
            status: payments::refund::view(&refund)["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        });
    }
    Ok(Money::from_fen(left.max(0)))
}
