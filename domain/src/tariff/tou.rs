//! Time-of-use periods (尖峰平谷) over local-time ranges, and the price (or adjustment) of each.
//!
//! A schedule must cover the 24 hours of the day exactly once, to the minute: a gap would leave
//! consumption unpriced and an overlap would price it twice.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::TariffError;
use crate::local_time::{LocalRange, LocalTime, MINUTES_PER_DAY};

/// The named time-of-use periods of Chinese tariffs: sharp 尖, peak 峰, flat 平, valley 谷.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TouPeriod {
    Sharp,
    Peak,
    Flat,
    Valley,
}

impl TouPeriod {
    pub const ALL: [TouPeriod; 4] = [
        TouPeriod::Sharp,
        TouPeriod::Peak,
        TouPeriod::Flat,
        TouPeriod::Valley,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            TouPeriod::Sharp => "sharp",
            TouPeriod::Peak => "peak",
            TouPeriod::Flat => "flat",
            TouPeriod::Valley => "valley",
        }
    }
}

/// One local-time range belonging to a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TouRange {
    pub period: TouPeriod,
    pub start: LocalTime,
    pub end: LocalTime,
}

/// The price of a period: yuan per kWh, or an adjustment on a tier price (may be negative).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodPrice {
    pub period: TouPeriod,
    #[serde(with = "rust_decimal::serde::str")]
    pub price: Decimal,
}

/// Ranges covering the day, and a price for every period they use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TouRates {
    pub ranges: Vec<TouRange>,
    pub prices: Vec<PeriodPrice>,
}

impl TouRates {
    /// Checks that the ranges cover each minute of the day exactly once and that each period
    /// used has exactly one price.
    pub fn validate(&self) -> Result<(), TariffError> {
        let mut owner: Vec<Option<TouPeriod>> = vec![None; usize::from(MINUTES_PER_DAY)];
        for range in &self.ranges {
            let local = LocalRange::new(range.start, range.end);
            if local.is_empty() {
                return Err(TariffError::EmptyTouRange(range.start.to_string()));
            }
            for minute in 0..MINUTES_PER_DAY {
                if local.contains_minute(minute) {
                    let slot = &mut owner[usize::from(minute)];
                    if slot.is_some() {
                        return Err(TariffError::TouOverlap(minute_label(minute)));
                    }
                    *slot = Some(range.period);
                }
            }
        }
        if let Some(minute) = owner.iter().position(Option::is_none) {
            let minute = u16::try_from(minute).unwrap_or(0);
            return Err(TariffError::TouGap(minute_label(minute)));
        }
        for period in TouPeriod::ALL {
            let used = self.ranges.iter().any(|r| r.period == period);
            let priced = self.prices.iter().filter(|p| p.period == period).count();
            if used && priced != 1 {
                return Err(TariffError::TouPrice(period));
            }
            if !used && priced > 0 {
                return Err(TariffError::TouPrice(period));
            }
        }
        Ok(())
    }

    /// The period in force at a minute of the local day (0..1440).
    pub fn period_at(&self, minute: u16) -> Option<TouPeriod> {
        self.ranges
            .iter()
            .find(|r| LocalRange::new(r.start, r.end).contains_minute(minute))
            .map(|r| r.period)
    }

    /// The price of a period, if the schedule uses it.
    pub fn price_of(&self, period: TouPeriod) -> Option<Decimal> {
        self.prices
            .iter()
            .find(|p| p.period == period)
            .map(|p| p.price)
    }

    /// Minutes of the day where the period may change, sorted, without duplicates.
    pub fn boundaries(&self) -> Vec<u16> {
        let mut minutes: Vec<u16> = self
            .ranges
            .iter()
            .flat_map(|r| [r.start.minutes(), r.end.minutes()])
            .map(|m| m % MINUTES_PER_DAY)
            .collect();
        minutes.sort_unstable();
        minutes.dedup();
        minutes
    }

    /// The lowest price (or adjustment) of any period, used to validate combined prices.
    pub(crate) fn lowest_price(&self) -> Decimal {
        self.prices
            .iter()
            .map(|p| p.price)
            .min()
            .unwrap_or(Decimal::ZERO)
    }
}

fn minute_label(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}
