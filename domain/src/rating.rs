//! Rating: turning a meter's new reading into charge lines, from its last rated state.
//!
//! Rules kept here (ARCHITECTURE.md, "Rating"):
//! - consumption = register rise × CT ratio; a reading at or before the last rated one is
//!   stale (stored, never charged); a falling register, a rise implying more power than the
//!   meter can register, or TOU registers that disagree with the total are anomalies: nothing is
//!   charged and rating stays suspended until an operator resets the baseline;
//! - the rise goes to periods by the meter's TOU registers when it has them, else pro rata by
//!   time over the periods the interval covers (local time of the site);
//! - each stretch of time is priced with the tariff version in force then and within its tier
//!   cycle, consumption spread over the interval pro rata by time; tier splits are exact;
//! - no drift: the state keeps the exact cumulative charge and each reading posts the rounded
//!   cumulative minus what was already posted.

mod price;
mod segments;
mod state;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Energy, Money};
use crate::tariff::{TariffVersions, TouPeriod};
use segments::Segment;
pub use state::{CycleUsage, RatingState};

/// Register resolution allowed on top of the power limit, so that one count on a short
/// interval is never an "implausible jump".
const REGISTER_SLACK_KWH: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
/// How far the TOU registers' rises may disagree with the total's: each of four registers and
/// the total may be off by one count of 0.01 kWh, plus 1 % for meters that round differently.
const TOU_SLACK_KWH: Decimal = Decimal::from_parts(5, 0, 0, false, 2);
const TOU_SLACK_SHARE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
/// Decimal places kept for pro rata shares of kWh and of fixed charges. Bounding the scale keeps
/// every later sum exact (a `Decimal` has 28 digits; sums of unbounded quotients would round),
/// and the remainder of each split goes to its last part, so the parts still add up exactly.
const SHARE_DP: u32 = 12;

/// `total × part / whole`, to [`SHARE_DP`] places.
pub(crate) fn pro_rata(total: Decimal, part: i64, whole: Decimal) -> Decimal {
    (total * Decimal::from(part) / whole).round_dp(SHARE_DP)
}

/// One reading of a meter's registers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterReading {
    pub ts: DateTime<Utc>,
    /// Total active energy register (kWh, before the CT ratio).
    pub total: Energy,
    /// Time-of-use registers, when the meter has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tou: Option<BTreeMap<TouPeriod, Energy>>,
}

/// What rating needs besides the state and the reading.
#[derive(Clone, Copy, Debug)]
pub struct RatingContext<'a> {
    /// CT ratio (变比) of the metering point; 1 for a direct meter.
    pub ct_ratio: Decimal,
    pub tariffs: &'a TariffVersions,
    /// The site's time zone: periods, cycles and months are local.
    pub tz: Tz,
    /// Most power the meter itself can register (kW, before the CT ratio), from its rating.
    pub max_register_power_kw: Decimal,
}

/// Why a reading was not trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    RegisterDecreased,
    ImplausibleJump,
    TouRegistersInconsistent,
}

/// What a charge line is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// Energy at a flat, period or tier price.
    Energy,
    /// A period's adjustment on top of tier prices (may be negative).
    PeriodAdjustment,
    /// A percentage of the energy charge; `price` is the percentage.
    ServicePercent,
    /// A fixed daily charge pro rata by time; `price` is the daily amount.
    ServicePerDay,
    /// A fixed monthly charge pro rata by time; `price` is the monthly amount.
    ServicePerMonth,
}

/// One line of a rated reading. `amount_exact` = `kwh` × `price` for energy lines, unrounded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeLine {
    pub kind: LineKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<TouPeriod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<u8>,
    pub kwh: Energy,
    #[serde(with = "rust_decimal::serde::str")]
    pub price: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount_exact: Decimal,
}

/// A reading that was rated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rated {
    pub lines: Vec<ChargeLine>,
    /// Consumption of the interval (kWh after the CT ratio).
    pub consumption: Energy,
    /// What to post to the ledger now (a charge; may be zero).
    pub post: Money,
    pub new_state: RatingState,
}

/// The result of rating one reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The meter's first reading: nothing charged, this is the state to keep.
    Baseline(RatingState),
    Rated(Rated),
    /// At or before the last rated reading: store for history, never charge.
    Stale,
    /// The meter is suspended after an anomaly: store, do not charge, wait for review.
    Suspended,
    /// Not trusted: nothing charged; keep `new_state` (flagged) and open a work order.
    Anomaly {
        kind: AnomalyKind,
        new_state: RatingState,
    },
}

/// Why rating could not run at all (configuration, not the meter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatingError {
    #[error("CT ratio must be positive")]
    InvalidCtRatio,
    #[error("maximum power must be positive")]
    InvalidMaxPower,
    #[error("no tariff version is in force at {0}")]
    NoTariffInForce(DateTime<Utc>),
    #[error("consumption fell in a time-of-use period the tariff does not price")]
    PeriodUnknown,
}

/// Rates `reading` against the meter's last `state` (`None` for its first reading).
pub fn rate(
    state: Option<&RatingState>,
    reading: &MeterReading,
    ctx: &RatingContext<'_>,
) -> Result<Outcome, RatingError> {
    if ctx.ct_ratio <= Decimal::ZERO {
        return Err(RatingError::InvalidCtRatio);
    }
    if ctx.max_register_power_kw <= Decimal::ZERO {
        return Err(RatingError::InvalidMaxPower);
    }
    let Some(state) = state else {
        return Ok(Outcome::Baseline(RatingState::baseline(reading)));
    };
    if reading.ts <= state.last_ts {
        return Ok(Outcome::Stale);
    }
    if state.anomaly.is_some() {
        return Ok(Outcome::Suspended);
    }
    let register_tou = match check(state, reading, ctx) {
        Ok(register_tou) => register_tou,
        Err(kind) => {
            let new_state = RatingState {
                anomaly: Some(kind),
                ..state.clone()
            };
            return Ok(Outcome::Anomaly { kind, new_state });
        }
    };
    let consumption = (reading.total - state.last_total).kwh() * ctx.ct_ratio;
    let (from, to) = (state.last_ts, reading.ts);

    // Registers say how the rise splits over periods, unless a version in force does not price
    // a period they report; then fall back to time.
    let by_register = match register_tou {
        Some(rises) => {
            let segs = segments::segments(from, to, ctx.tariffs, ctx.tz, false)?;
            let priced = segs.iter().all(|s| {
                s.version.tou_rates().is_none_or(|rates| {
                    rises
                        .iter()
                        .all(|(p, r)| r.is_zero() || rates.price_of(*p).is_some())
                })
            });
            priced.then(|| (segs, split_exact(consumption, &rises)))
        }
        None => None,
    };
    let mut lines = Vec::new();
    let mut cycle = state.cycle;
    if let Some((segs, per_period)) = by_register {
        let total_ms = total_millis(&segs);
        let mut left: Vec<(TouPeriod, Decimal)> = per_period.clone();
        for (index, seg) in segs.iter().enumerate() {
            let last = index + 1 == segs.len();
            let pieces: Vec<(Option<TouPeriod>, Decimal)> = per_period
                .iter()
                .zip(left.iter_mut())
                .map(|((period, kwh), remaining)| {
                    let share = if last {
                        remaining.1
                    } else {
                        pro_rata(*kwh, seg.millis(), total_ms)
                    };
                    remaining.1 -= share;
                    (Some(*period), share)
                })
                .collect();
            price::price_segment(seg, &pieces, &mut cycle, ctx.tz, &mut lines)?;
        }
    } else {
        let segs = segments::segments(from, to, ctx.tariffs, ctx.tz, true)?;
        let total_ms = total_millis(&segs);
        let mut remaining = consumption;
        for (index, seg) in segs.iter().enumerate() {
            let share = if index + 1 == segs.len() {
                remaining
            } else {
                pro_rata(consumption, seg.millis(), total_ms)
            };
            remaining -= share;
            price::price_segment(seg, &[(seg.period, share)], &mut cycle, ctx.tz, &mut lines)?;
        }
    }

    let exact_charge = state.exact_charge + lines.iter().map(|l| l.amount_exact).sum::<Decimal>();
    let posted = Money::new(exact_charge).round_fen();
    let post = posted - state.posted;
    let new_state = RatingState {
        last_ts: reading.ts,
        last_total: reading.total,
        last_tou: reading.tou.clone(),
        exact_charge,
        posted,
        cycle,
        anomaly: None,
    };
    Ok(Outcome::Rated(Rated {
        lines,
        consumption: Energy::new(consumption),
        post,
        new_state,
    }))
}

fn total_millis(segs: &[Segment<'_>]) -> Decimal {
    Decimal::from(segs.iter().map(Segment::millis).sum::<i64>().max(1))
}

/// Checks the reading is trustworthy; returns the TOU register rises when both readings have
/// usable ones.
fn check(
    state: &RatingState,
    reading: &MeterReading,
    ctx: &RatingContext<'_>,
) -> Result<Option<Vec<(TouPeriod, Decimal)>>, AnomalyKind> {
    let rise = (reading.total - state.last_total).kwh();
    if rise.is_sign_negative() && !rise.is_zero() {
        return Err(AnomalyKind::RegisterDecreased);
    }
    let hours =
        Decimal::from((reading.ts - state.last_ts).num_milliseconds()) / Decimal::from(3_600_000);
    if rise > ctx.max_register_power_kw * hours + REGISTER_SLACK_KWH {
        return Err(AnomalyKind::ImplausibleJump);
    }
    let (Some(before), Some(after)) = (&state.last_tou, &reading.tou) else {
        return Ok(None);
    };
    let mut rises = Vec::new();
    for (period, value) in after {
        let Some(previous) = before.get(period) else {
            continue;
        };
        let period_rise = (*value - *previous).kwh();
        if period_rise.is_sign_negative() && !period_rise.is_zero() {
            return Err(AnomalyKind::RegisterDecreased);
        }
        rises.push((*period, period_rise));
    }
    let sum: Decimal = rises.iter().map(|(_, r)| *r).sum();
    if (sum - rise).abs() > TOU_SLACK_KWH + rise * TOU_SLACK_SHARE {
        return Err(AnomalyKind::TouRegistersInconsistent);
    }
    // Nothing to split by (no common register, or all flat while the total moved by a count).
    Ok((sum > Decimal::ZERO).then_some(rises))
}

/// Splits `total` in proportion to `weights`, the last taking the remainder, so the parts sum
/// to `total` exactly.
fn split_exact(total: Decimal, weights: &[(TouPeriod, Decimal)]) -> Vec<(TouPeriod, Decimal)> {
    let sum: Decimal = weights.iter().map(|(_, w)| *w).sum();
    let mut remaining = total;
    let mut out = Vec::with_capacity(weights.len());
    for (index, (period, weight)) in weights.iter().enumerate() {
        let part = if index + 1 == weights.len() {
            remaining
        } else {
            (total * *weight / sum).round_dp(SHARE_DP)
        };
        remaining -= part;
        out.push((*period, part));
    }
    out
}
