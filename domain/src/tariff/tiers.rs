//! Tiered (阶梯) prices over cumulative consumption within a monthly or yearly cycle.
//!
//! Tiers are half-open `(lo, hi]` in kWh, each starting where the previous ends, the last
//! unbounded. A rise crossing a boundary is split exactly at it, so the kWh of the pieces always
//! sum to the rise. Cycles start at local midnight on the first of the month or of January.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::TariffError;
use crate::money::Energy;

/// How often cumulative consumption resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierCycle {
    Monthly,
    Yearly,
}

/// Identifies one cycle: the year, and the month for a monthly cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CycleKey {
    pub year: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<u32>,
}

impl TierCycle {
    /// The cycle that a local date belongs to.
    pub fn key_of(self, date: NaiveDate) -> CycleKey {
        CycleKey {
            year: date.year(),
            month: match self {
                TierCycle::Monthly => Some(date.month()),
                TierCycle::Yearly => None,
            },
        }
    }

    /// The first instant of the cycle after the one containing `at`, in the site's time zone.
    pub fn next_start(self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let date = at.with_timezone(&tz).date_naive();
        let (year, month) = match self {
            TierCycle::Monthly if date.month() == 12 => (date.year() + 1, 1),
            TierCycle::Monthly => (date.year(), date.month() + 1),
            TierCycle::Yearly => (date.year() + 1, 1),
        };
        let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(date);
        local_midnight(first, tz)
    }
}

/// The first instant of a local date (skipping forward over a DST gap at midnight).
pub(crate) fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut naive = date.and_time(chrono::NaiveTime::MIN);
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&naive).earliest() {
            return t.with_timezone(&Utc);
        }
        naive += chrono::TimeDelta::minutes(30);
    }
    // No zone has a gap this long; treat the naive time as UTC rather than fail.
    naive.and_utc()
}

/// One tier: applies to cumulative consumption up to `up_to` (inclusive); `None` = no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to: Option<Energy>,
    #[serde(with = "rust_decimal::serde::str")]
    pub price: Decimal,
}

/// A piece of consumption falling into one tier (1-based number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierPiece {
    pub tier: u8,
    pub kwh: Decimal,
    pub price: Decimal,
}

/// Checks bounds strictly increase, only the last is unbounded, and prices are not negative.
pub(crate) fn validate(tiers: &[Tier]) -> Result<(), TariffError> {
    if tiers.is_empty() || tiers.len() > usize::from(u8::MAX) {
        return Err(TariffError::NoTiers);
    }
    let mut previous = Decimal::ZERO;
    for (index, tier) in tiers.iter().enumerate() {
        let last = index + 1 == tiers.len();
        match (tier.up_to, last) {
            (None, true) => {}
            (None, false) => return Err(TariffError::UnboundedTierNotLast),
            (Some(_), true) => return Err(TariffError::LastTierBounded),
            (Some(bound), false) if bound.kwh() <= previous => {
                return Err(TariffError::TierBoundsNotIncreasing)
            }
            (Some(bound), false) => previous = bound.kwh(),
        }
        if tier.price.is_sign_negative() {
            return Err(TariffError::NegativePrice);
        }
    }
    Ok(())
}

/// Splits `kwh` consumed after `used` kWh already in the cycle across the tiers.
/// Consumption exactly at a bound belongs to the lower tier, as `(lo, hi]` says.
pub fn split(tiers: &[Tier], used: Decimal, kwh: Decimal) -> Vec<TierPiece> {
    let mut pieces = Vec::new();
    let mut at = used;
    let mut left = kwh;
    for (index, tier) in tiers.iter().enumerate() {
        if left <= Decimal::ZERO {
            break;
        }
        let room = match tier.up_to {
            Some(bound) if bound.kwh() <= at => continue,
            Some(bound) => bound.kwh() - at,
            None => left,
        };
        let take = room.min(left);
        pieces.push(TierPiece {
            tier: u8::try_from(index + 1).unwrap_or(u8::MAX),
            kwh: take,
            price: tier.price,
        });
        at += take;
        left -= take;
    }
    pieces
}
