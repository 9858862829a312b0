//! Rating: stored readings of many meters become charges in one transaction of a few
//! set-based statements.
//!
//! Rules kept here (ARCHITECTURE.md "Rating", invariants 1 and 3):
//! - a pass locks the rating states of its meters in one statement, in meter-id order
//!   (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's single writer serialises passes), so any
//!   worker may rate any meter, two passes never rate the same readings, and two workers never
//!   wait on each other in a cycle; the accounts charged are then locked, also in id order;
//! - ledger granularity: one `charge` entry per meter and pass covering every reading the pass
//!   rated for that meter (a rated rise of the meter), keyed by the meter and the timestamp of
//!   the last reading it covers (`charge:{meter}:{ts_ms}`). The state only moves forward under
//!   its lock, so redelivery and concurrent workers cannot post a range twice; entries and
//!   balances are written in the same transaction (`balance == sum(ledger)` at every commit),
//!   and the posted total is the rounded exact total;
//! - stale readings (at or before `last_ts`) are stored and never charged; an anomaly stops
//!   charging the meter and opens one work order until an operator resets the baseline;
//! - a vacant unit (no open account) is not charged: its baseline follows the readings;
//! - a pass takes meters first in, first out up to [`READINGS_PER_PASS`] readings, at most
//!   [`READINGS_PER_METER`] of each meter (the rest waits at the back of the queue) and at most
//!   half the pass for one gateway while others wait, so a gateway flushing a day of readings
//!   does not hold back fresh ones of other gateways (see `DirtyQueue`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use domain::{rate, Energy, MeterReading, Money, Outcome, RatingContext, RatingState, TouPeriod};
use sea_orm::{DatabaseTransaction, TransactionTrait};
use store::daily::UsageAdd;
use store::ledger::NewEntry;
use store::reading::Unrated;
use store::work_order::NewWorkOrder;
use store::{Account, AccountId, LedgerKind, MeterId, OrgId, StoreError};

use crate::context::{load_contexts, MeterContext};
use crate::{Metrics, Worker};

/// Readings rated per meter and pass (a day of 15-minute readings fits one pass).
pub const READINGS_PER_METER: u64 = 100;
/// Readings rated per pass (one transaction), counted as queued by ingestion.
pub const READINGS_PER_PASS: u64 = 2_000;
/// Meters rated per pass.
const METERS_PER_PASS: usize = 2_000;

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
    /// The site's time zone (the live snapshot's "today").
    pub tz: chrono_tz::Tz,
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

/// One meter's outcome of a pass, before it is written.
struct Work {
    rated: MeterRated,
    /// The state to save, when it moved.
    state: Option<RatingState>,
    /// The charge (positive) and the `last_ts` it covers up to, and from.
    post: Money,
    from: Option<DateTime<Utc>>,
    usage: BTreeMap<String, (i64, Money)>,
    anomaly: Option<(domain::AnomalyKind, MeterReading)>,
    ctx: Arc<MeterContext>,
}

impl Worker {
    /// Rates the queued meters pass by pass until none waits, then runs charge control where
    /// it has something to decide and refreshes the live snapshot of every account rated.
    /// Answers what was rated.
    pub async fn rate_pending(&self, now: DateTime<Utc>) -> anyhow::Result<RateReport> {
        let mut report = RateReport::default();
        loop {
            let meters = self.take_dirty(READINGS_PER_PASS, READINGS_PER_METER, METERS_PER_PASS);
            if meters.is_empty() {
                break;
            }
            match self.rate_meters(&meters).await {
                Ok(rated) => {
                    self.after_pass(&rated, now).await?;
                    let m = self.metrics();
                    for r in &rated {
                        Metrics::add(&m.readings_rated, r.readings);
                    }
                    report.meters.extend(rated);
                }
                Err(e) => {
                    // Nothing of the pass was committed: try again on the next one.
                    self.forget_contexts();
                    self.mark_dirty(meters);
                    return Err(e.into());
                }
            }
        }
        Ok(report)
    }

    /// Charge control for the accounts of a pass that need it, then their live snapshots.
    async fn after_pass(&self, rated: &[MeterRated], now: DateTime<Utc>) -> anyhow::Result<()> {
        let t = Instant::now();
        let mut accounts: BTreeMap<AccountId, crate::live::SnapshotHint> = BTreeMap::new();
        let mut loud: BTreeMap<AccountId, (OrgId, Option<String>)> = BTreeMap::new();
        for m in rated.iter().filter(|m| m.readings > 0) {
            let Some(account) = m.account else { continue };
            let hint = accounts
                .entry(account)
                .or_insert_with(|| crate::live::SnapshotHint {
                    org: m.org,
                    account,
                    tz: m.tz,
                    last_reading_at: None,
                    relay: None,
                });
            hint.last_reading_at = hint.last_reading_at.max(m.last_reading_at);
            if m.relay.is_some() {
                hint.relay.clone_from(&m.relay);
            }
            if !m.quiet {
                let e = loud.entry(account).or_insert((m.org, None));
                if m.relay.is_some() {
                    e.1.clone_from(&m.relay);
                }
            }
        }
        for (account, (org, relay)) in loud {
            if let Some(relay) = relay.as_deref().and_then(crate::control::relay_of) {
                self.step_account(org, account, crate::control::Trigger::Relay(relay), now)
                    .await?;
            }
            self.step_account(org, account, crate::control::Trigger::Balance, now)
                .await?;
        }
        let t = Metrics::time(&self.metrics().phases.control, t);
        let hints: Vec<_> = accounts.into_values().collect();
        self.refresh_live_many(&hints, now).await;
        Metrics::time(&self.metrics().phases.live_cache, t);
        Ok(())
    }

    /// One pass: one transaction over `meters`.
    async fn rate_meters(
        &self,
        meters: &[(OrgId, MeterId)],
    ) -> Result<Vec<MeterRated>, StoreError> {
        let phases = &self.metrics().phases;
        let mut meters = meters.to_vec();
        meters.sort_unstable_by_key(|&(_, m)| m);
        let t = Instant::now();
        let txn = self.db().begin().await?;
        let states = store::rating_state::lock_many(&txn, &meters).await?;
        let meters: Vec<(OrgId, MeterId)> = meters
            .into_iter()
            .filter(|(_, m)| states.contains_key(m))
            .collect();
        let ids: Vec<MeterId> = meters.iter().map(|&(_, m)| m).collect();
        let rows = store::reading::unrated(&txn, &ids, READINGS_PER_METER).await?;
        let mut by_meter: HashMap<MeterId, Vec<Unrated>> = HashMap::new();
        for r in rows {
            by_meter.entry(r.meter_id).or_default().push(r);
        }
        let t = Metrics::time(&phases.lock_fetch, t);

        let mut contexts = self.meter_contexts(&txn, &meters).await?;
        let (locked, contexts_changed) = self.lock_accounts(&txn, &mut contexts).await?;
        if contexts_changed {
            tracing::debug!("meter contexts reloaded after a configuration change");
        }
        let t = Metrics::time(&phases.context, t);

        let mut work = Vec::with_capacity(meters.len());
        for &(org, meter) in &meters {
            let Some(ctx) = contexts.get(&meter) else {
                continue;
            };
            let readings = by_meter.remove(&meter).unwrap_or_default();
            if readings.len() as u64 >= READINGS_PER_METER {
                self.mark_dirty_counted([(
                    (org, meter),
                    READINGS_PER_METER,
                    Some(ctx.meter.gateway_id),
                )]);
            }
            let state = states.get(&meter).cloned().flatten();
            let account = ctx.account.as_ref().and_then(|a| locked.get(&a.id));
            if ctx.account.is_some() && account.is_none() {
                // The account vanished between loading and locking: look again next pass
                // rather than treat the unit as vacant.
                self.mark_dirty([(org, meter)]);
                continue;
            }
            work.push(rate_one(org, meter, ctx, account, state, &readings));
        }
        let t = Metrics::time(&phases.rate, t);

        let mut balances: HashMap<AccountId, i64> =
            locked.values().map(|a| (a.id, a.balance_fen)).collect();
        let mut entries = Vec::new();
        let mut charged = Vec::new();
        for (i, w) in work.iter().enumerate() {
            let (Some(account), Some(state)) = (w.rated.account, w.state.as_ref()) else {
                continue;
            };
            if w.post == Money::ZERO {
                continue;
            }
            entries.push((
                w.rated.org,
                NewEntry {
                    account_id: account,
                    kind: LedgerKind::Charge,
                    amount: -w.post,
                    idempotency_key: format!(
                        "charge:{}:{}",
                        w.rated.meter,
                        state.last_ts.timestamp_millis()
                    ),
                    corrects: None,
                    memo: Some(format!(
                        "meter {} {} → {}",
                        w.ctx.meter.wire_id,
                        w.from.map(|f| f.to_rfc3339()).unwrap_or_default(),
                        state.last_ts.to_rfc3339()
                    )),
                    created_by: None,
                },
            ));
            charged.push(i);
        }
        let after = store::ledger::post_many_locked(&txn, &mut balances, &entries).await?;
        for (&i, balance_after) in charged.iter().zip(after) {
            let w = &mut work[i];
            let balance_after = Money::from_fen(balance_after);
            w.rated.charged = w.post;
            w.rated.quiet = w.rated.quiet
                && balance_after > w.ctx.alarm_threshold
                && balance_after > w.ctx.trip_threshold;
        }
        let t = Metrics::time(&phases.post_ledger, t);

        let saves: Vec<(OrgId, MeterId, &RatingState)> = work
            .iter()
            .filter_map(|w| w.state.as_ref().map(|s| (w.rated.org, w.rated.meter, s)))
            .collect();
        store::rating_state::save_many(&txn, &saves).await?;
        let mut usage = Vec::new();
        for w in &work {
            for (period, (wh, cost)) in &w.usage {
                usage.push(UsageAdd {
                    org: w.rated.org,
                    meter: w.rated.meter,
                    account: w.rated.account,
                    period: period.clone(),
                    energy_wh: *wh,
                    cost_fen: cost.to_fen().unwrap_or(0),
                });
            }
        }
        store::daily::add_usage_many(&txn, &usage).await?;
        for w in &work {
            if let Some((kind, reading)) = &w.anomaly {
                self.open_anomaly(&txn, &w.ctx, *kind, reading).await?;
            }
        }
        let t = Metrics::time(&phases.save_state, t);
        txn.commit().await?;
        Metrics::time(&phases.commit, t);

        let m = self.metrics();
        Metrics::add(&m.rating_txns, 1);
        let rated: Vec<MeterRated> = work.into_iter().map(|w| w.rated).collect();
        for r in &rated {
            if r.charged != Money::ZERO {
                Metrics::add(&m.charges_posted, 1);
            }
        }
        Ok(rated)
    }

    /// Locks the accounts of the meters' contexts (id order) and checks each cached context
    /// against its locked row; a context that no longer matches (account closed, tariff or
    /// thresholds changed) is loaded again in the transaction. Answers the locked accounts
    /// and whether any context was reloaded.
    async fn lock_accounts(
        &self,
        txn: &DatabaseTransaction,
        contexts: &mut HashMap<MeterId, Arc<MeterContext>>,
    ) -> Result<(HashMap<AccountId, Account>, bool), StoreError> {
        let keys: Vec<(OrgId, AccountId)> = contexts
            .values()
            .filter_map(|c| c.account.as_ref().map(|a| (a.organization_id, a.id)))
            .collect();
        let mut locked: HashMap<AccountId, Account> = store::account::lock_many(txn, &keys)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let stale: Vec<(OrgId, MeterId)> = contexts
            .values()
            .filter(|c| {
                c.account
                    .as_ref()
                    .is_some_and(|a| locked.get(&a.id).is_none_or(|l| !c.matches(l)))
            })
            .map(|c| (c.meter.organization_id, c.meter.id))
            .collect();
        if stale.is_empty() {
            return Ok((locked, false));
        }
        self.forget_contexts();
        let fresh = load_contexts(txn, &stale).await?;
        let more: Vec<(OrgId, AccountId)> = fresh
            .values()
            .filter_map(|c| c.account.as_ref().map(|a| (a.organization_id, a.id)))
            .filter(|(_, id)| !locked.contains_key(id))
            .collect();
        // Out of id order, but only after a configuration change; a deadlock with another
        // worker aborts one pass, which is retried.
        for a in store::account::lock_many(txn, &more).await? {
            locked.insert(a.id, a);
        }
        for (_, meter) in stale {
            match fresh.get(&meter) {
                Some(c) => {
                    contexts.insert(meter, Arc::new(c.clone()));
                }
                None => {
                    contexts.remove(&meter);
                }
            }
        }
        Ok((locked, true))
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

/// Rates one meter's readings (oldest first) from its locked state, in Rust. `account` is the
/// locked row of the context's account (none: vacant, or not lockable).
fn rate_one(
    org: OrgId,
    meter: MeterId,
    ctx: &Arc<MeterContext>,
    account: Option<&Account>,
    mut state: Option<RatingState>,
    rows: &[Unrated],
) -> Work {
    let relay = rows.iter().rev().find_map(|r| r.relay.clone());
    let mut w = Work {
        rated: MeterRated {
            org,
            meter,
            account: account.map(|a| a.id),
            readings: 0,
            charged: Money::ZERO,
            quiet: false,
            relay,
            last_reading_at: rows.last().map(|r| r.ts),
            tz: ctx.tz,
        },
        state: None,
        post: Money::ZERO,
        from: state.as_ref().map(|s| s.last_ts),
        usage: BTreeMap::new(),
        anomaly: None,
        ctx: ctx.clone(),
    };
    let Some(account) = account else {
        // Vacant: nothing to charge, and the next tenant starts from the newest register.
        if let Some(last) = rows.last().map(to_meter_reading) {
            w.state = Some(match &state {
                Some(s) => s.reset_baseline(&last),
                None => RatingState::baseline(&last),
            });
        }
        return w;
    };
    let Some(tariffs) = ctx.tariffs.as_deref() else {
        if !rows.is_empty() {
            tracing::warn!(%meter, account = %account.id, "account has no tariff; readings wait");
        }
        return w;
    };
    let (Ok(ct_ratio), Ok(max_power)) = (ctx.meter.ct_ratio(), ctx.meter.max_power_kw()) else {
        tracing::warn!(%meter, "meter has an invalid CT ratio or power; readings wait");
        return w;
    };
    let rctx = RatingContext {
        ct_ratio,
        tariffs,
        tz: ctx.tz,
        max_register_power_kw: max_power,
    };
    let before = state.clone();
    for row in rows {
        let reading = to_meter_reading(row);
        let outcome = match rate(state.as_ref(), &reading, &rctx) {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(%meter, error = %e, "cannot rate; readings wait");
                break;
            }
        };
        w.rated.readings += 1;
        match outcome {
            Outcome::Baseline(s) => state = Some(s),
            Outcome::Rated(r) => {
                w.post += r.post;
                let (day, month) = periods(reading.ts, ctx.tz);
                let wh = r.consumption.to_wh().unwrap_or(0);
                for p in [day, month] {
                    let e = w.usage.entry(p).or_insert((0, Money::ZERO));
                    e.0 += wh;
                    e.1 += r.post;
                }
                state = Some(r.new_state);
            }
            Outcome::Stale => {}
            Outcome::Suspended => break,
            Outcome::Anomaly { kind, new_state } => {
                state = Some(new_state);
                w.anomaly = Some((kind, reading));
                break;
            }
        }
    }
    // Charge control only needs to hear about a non-normal account or an open relay; the
    // charge's new balance is checked against the thresholds once posted.
    w.rated.quiet =
        account.cc_state == "normal" && w.rated.relay.as_deref().is_none_or(|r| r == "closed");
    if state != before {
        w.state = state;
    }
    if w.state.is_none() {
        // Nothing moved: nothing to post either.
        w.post = Money::ZERO;
        w.usage.clear();
    }
    w
}

/// The domain reading of a stored row.
fn to_meter_reading(row: &Unrated) -> MeterReading {
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
    MeterReading {
        ts: row.ts,
        total: Energy::from_wh(row.energy_wh),
        tou: (!tou.is_empty()).then_some(tou),
    }
}
