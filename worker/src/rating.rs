//! Rating: stored readings of a meter become one `charge` ledger entry per meter and pass.
//!
//! Rules kept here (ARCHITECTURE.md "Rating", invariants 1 and 3):
//! - a meter is rated inside a transaction that first locks its rating state, so any worker
//!   may rate any meter and each reading after the state's `last_ts` is rated exactly once;
//! - the charge's idempotency key is the meter and the timestamp of the last reading it covers
//!   (`charge:{meter}:{ts_ms}`); the state only moves forward, so redelivery and concurrent
//!   workers cannot post a range twice, and the posted total is the rounded exact total;
//! - stale readings (at or before `last_ts`) are stored and never charged; an anomaly stops
//!   charging the meter and opens one work order until an operator resets the baseline;
//! - a vacant unit (no open account) is not charged: its baseline follows the readings;
//! - meters are rated in id order within a pass (no lock cycles between workers) and at most
//!   [`READINGS_PER_METER`] readings each, so a gateway flushing a day of readings does not
//!   hold back fresh ones of other meters.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use domain::{rate, Energy, MeterReading, Money, Outcome, RatingContext, TouPeriod};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use store::entity::reading;
use store::ledger::{self, NewEntry};
use store::work_order::NewWorkOrder;
use store::{AccountId, LedgerKind, MeterId, OrgId, StoreError};

use crate::context::{meter_context, MeterContext};
use crate::{Metrics, Worker};

/// Readings rated per meter and pass.
pub const READINGS_PER_METER: u64 = 2_000;
/// Meters rated per transaction.
const METERS_PER_TXN: usize = 64;

/// What one meter's rating changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterRated {
    pub org: OrgId,
    pub meter: MeterId,
    pub account: Option<AccountId>,
    pub readings: u64,
    pub charged: Money,
    /// The relay state of the newest reading that reported one.
    pub relay: Option<String>,
    pub last_reading_at: Option<DateTime<Utc>>,
    /// Charge control has nothing to decide: the account is normal, stays above both
    /// thresholds after this charge, and no open relay was seen.
    pub quiet: bool,
}

/// What a pass of [`Worker::rate_pending`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateReport {
    pub meters: Vec<MeterRated>,
}

impl RateReport {
    pub fn readings(&self) -> u64 {
        self.meters.iter().map(|m| m.readings).sum()
    }
}

/// The local day and month of `ts` at the site: the usage periods a rise is added to.
pub fn periods(ts: DateTime<Utc>, tz: chrono_tz::Tz) -> (String, String) {
    let local = ts.with_timezone(&tz);
    (
        local.format("%Y-%m-%d").to_string(),
        local.format("%Y-%m").to_string(),
    )
}

impl Worker {
    /// Rates the meters with unrated readings, then runs charge control and refreshes the
    /// live snapshot of every account charged. Answers what was rated.
    pub async fn rate_pending(&self, now: DateTime<Utc>) -> anyhow::Result<RateReport> {
        let mut report = RateReport::default();
        loop {
            let meters = self.take_dirty(METERS_PER_TXN);
            if meters.is_empty() {
                break;
            }
            match self.rate_meters(&meters).await {
                Ok(rated) => report.meters.extend(rated),
                Err(e) => {
                    // Nothing of the chunk was committed: try again on the next pass.
                    self.mark_dirty(meters);
                    return Err(e.into());
                }
            }
        }
        let mut accounts: HashMap<AccountId, (OrgId, Option<String>, bool)> = HashMap::new();
        for m in &report.meters {
            if let Some(account) = m.account {
                let entry = accounts.entry(account).or_insert((m.org, None, true));
                if m.relay.is_some() {
                    entry.1.clone_from(&m.relay);
                }
                entry.2 &= m.quiet;
            }
        }
        for (account, (org, relay, quiet)) in accounts {
            self.after_rating(org, account, relay.as_deref(), quiet, now)
                .await?;
        }
        Ok(report)
    }

    async fn rate_meters(
        &self,
        meters: &[(OrgId, MeterId)],
    ) -> Result<Vec<MeterRated>, StoreError> {
        let txn = self.db().begin().await?;
        let mut rated = Vec::with_capacity(meters.len());
        for &(org, meter) in meters {
            rated.push(self.rate_meter(&txn, org, meter).await?);
        }
        txn.commit().await?;
        let m = self.metrics();
        for r in &rated {
            Metrics::add(&m.readings_rated, r.readings);
            if r.charged != Money::ZERO {
                Metrics::add(&m.charges_posted, 1);
            }
        }
        Ok(rated)
    }

    async fn rate_meter(
        &self,
        txn: &DatabaseTransaction,
        org: OrgId,
        meter: MeterId,
    ) -> Result<MeterRated, StoreError> {
        let mut state = store::rating_state::lock(txn, org, meter).await?;
        let ctx = meter_context(txn, org, meter).await?;
        let mut select = reading::Entity::find()
            .filter(reading::Column::OrganizationId.eq(org))
            .filter(reading::Column::MeterId.eq(meter))
            .filter(reading::Column::EnergyWh.is_not_null());
        if let Some(s) = &state {
            select = select.filter(reading::Column::Ts.gt(s.last_ts));
        }
        let rows = select
            .order_by_asc(reading::Column::Ts)
            .limit(READINGS_PER_METER)
            .all(txn)
            .await?;
        if rows.len() as u64 == READINGS_PER_METER {
            self.mark_dirty([(org, meter)]);
        }
        let mut out = MeterRated {
            org,
            meter,
            account: ctx.account.as_ref().map(|a| a.id),
            readings: 0,
            charged: Money::ZERO,
            relay: None,
            last_reading_at: rows.last().map(|r| r.ts),
            quiet: false,
        };
        for r in rows.iter().rev() {
            if let Some(relay) = &r.relay {
                out.relay = Some(relay.clone());
                break;
            }
        }
        let Some(account) = ctx.account.clone() else {
            // Vacant: nothing to charge, and the next tenant starts from the newest register.
            if let Some(last) = rows.last().and_then(to_meter_reading) {
                let next = match &state {
                    Some(s) => s.reset_baseline(&last),
                    None => domain::RatingState::baseline(&last),
                };
                store::rating_state::save(txn, org, meter, &next).await?;
            }
            return Ok(out);
        };
        let Some(tariffs) = ctx.tariffs.as_ref() else {
            if !rows.is_empty() {
                tracing::warn!(%meter, account = %account.id, "account has no tariff; readings wait");
            }
            return Ok(out);
        };
        let rctx = RatingContext {
            ct_ratio: ctx.meter.ct_ratio()?,
            tariffs,
            tz: ctx.tz,
            max_register_power_kw: ctx.meter.max_power_kw()?,
        };
        let mut usage: BTreeMap<String, (i64, Money)> = BTreeMap::new();
        let mut post = Money::ZERO;
        let before = state.clone();
        for row in &rows {
            let Some(reading) = to_meter_reading(row) else {
                continue;
            };
            let outcome = match rate(state.as_ref(), &reading, &rctx) {
                Ok(outcome) => outcome,
                Err(e) => {
                    tracing::warn!(%meter, error = %e, "cannot rate; readings wait");
                    break;
                }
            };
            out.readings += 1;
            match outcome {
                Outcome::Baseline(s) => state = Some(s),
                Outcome::Rated(r) => {
                    post += r.post;
                    let (day, month) = periods(reading.ts, ctx.tz);
                    let wh = r.consumption.to_wh().unwrap_or(0);
                    for p in [day, month] {
                        let e = usage.entry(p).or_insert((0, Money::ZERO));
                        e.0 += wh;
                        e.1 += r.post;
                    }
                    state = Some(r.new_state);
                }
                Outcome::Stale => {}
                Outcome::Suspended => break,
                Outcome::Anomaly { kind, new_state } => {
                    state = Some(new_state);
                    self.open_anomaly(txn, &ctx, kind, &reading).await?;
                    break;
                }
            }
        }
        let Some(new_state) = state else {
            return Ok(out);
        };
        // Nothing charged: charge control only needs to hear about an open relay.
        out.quiet =
            account.cc_state == "normal" && out.relay.as_deref().is_none_or(|r| r == "closed");
        if Some(&new_state) != before.as_ref() {
            store::rating_state::save(txn, org, meter, &new_state).await?;
        }
        if post != Money::ZERO {
            let key = format!("charge:{meter}:{}", new_state.last_ts.timestamp_millis());
            let from = before.as_ref().map(|s| s.last_ts.to_rfc3339());
            let posting = ledger::post_in_txn(
                txn,
                org,
                NewEntry {
                    account_id: account.id,
                    kind: LedgerKind::Charge,
                    amount: -post,
                    idempotency_key: key,
                    corrects: None,
                    memo: Some(format!(
                        "meter {} {} → {}",
                        ctx.meter.wire_id,
                        from.unwrap_or_default(),
                        new_state.last_ts.to_rfc3339()
                    )),
                    created_by: None,
                },
            )
            .await?;
            out.charged = post;
            let after = posting.entry.balance_after();
            out.quiet = account.cc_state == "normal"
                && after > ctx.alarm_threshold
                && after > ctx.trip_threshold
                && out.relay.as_deref().is_none_or(|r| r == "closed");
        }
        for (period, (wh, cost)) in usage {
            store::daily::add_usage(
                txn,
                org,
                meter,
                Some(account.id),
                &period,
                wh,
                cost.to_fen().unwrap_or(0),
            )
            .await?;
        }
        Ok(out)
    }

    async fn open_anomaly(
        &self,
        txn: &DatabaseTransaction,
        ctx: &MeterContext,
        kind: domain::AnomalyKind,
        reading: &MeterReading,
    ) -> Result<(), StoreError> {
        Metrics::add(&self.metrics().anomalies, 1);
        let kind_name = serde_json::to_value(kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        tracing::warn!(meter = %ctx.meter.id, anomaly = kind_name, "meter anomaly: charging stopped");
        store::work_order::open_once(
            txn,
            ctx.meter.organization_id,
            NewWorkOrder {
                kind: "anomaly".into(),
                title: format!("抄表异常 Meter anomaly: {} ({kind_name})", ctx.meter.wire_id),
                detail: format!(
                    "Reading at {} (register {} kWh) was not trusted: {kind_name}. Charging of this \
                     meter is stopped until the baseline is reset.",
                    reading.ts.to_rfc3339(),
                    reading.total
                ),
                account_id: ctx.account.as_ref().map(|a| a.id),
                meter_id: Some(ctx.meter.id),
                gateway_id: Some(ctx.gateway.id),
                dedup_key: format!("anomaly:{}", ctx.meter.id),
            },
            Utc::now(),
        )
        .await?;
        Ok(())
    }
}

/// The domain reading of a stored row with energy.
fn to_meter_reading(row: &reading::Model) -> Option<MeterReading> {
    let total = Energy::from_wh(row.energy_wh?);
    let registers = [
        row.tou_sharp_wh,
        row.tou_peak_wh,
        row.tou_flat_wh,
        row.tou_valley_wh,
    ];
    let tou: BTreeMap<TouPeriod, Energy> = TouPeriod::ALL
        .into_iter()
        .zip(registers)
        .filter_map(|(p, wh)| wh.map(|wh| (p, Energy::from_wh(wh))))
        .collect();
    Some(MeterReading {
        ts: row.ts,
        total,
        tou: (!tou.is_empty()).then_some(tou),
    })
}
