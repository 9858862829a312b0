//! Tariffs: the price rules a meter's consumption is rated with, versioned by `effective_from`.
//!
//! Kinds: a flat price; time-of-use prices per period; tiered prices over cumulative consumption
//! per cycle, optionally with a per-period adjustment on top of the tier price (how Chinese
//! residential tariffs combine 阶梯 and 分时). Optional service charges default to none, because
//! resold grid power (转供电) may carry no markup. The store keeps a version as JSON; every
//! decimal is a string. A version is only usable after [`TariffVersion::validate`].

mod examples;
pub mod tiers;
pub mod tou;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Money;
pub use tiers::{CycleKey, Tier, TierCycle, TierPiece};
pub use tou::{PeriodPrice, TouPeriod, TouRange, TouRates};

/// Why a tariff is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TariffError {
    #[error("a time-of-use range starting at {0} is empty")]
    EmptyTouRange(String),
    #[error("time-of-use ranges overlap at {0}")]
    TouOverlap(String),
    #[error("time-of-use ranges leave {0} uncovered")]
    TouGap(String),
    #[error("period {0:?} must have exactly one price if, and only if, a range uses it")]
    TouPrice(TouPeriod),
    #[error("a tiered tariff needs between 1 and 255 tiers")]
    NoTiers,
    #[error("only the last tier may be unbounded")]
    UnboundedTierNotLast,
    #[error("the last tier must be unbounded")]
    LastTierBounded,
    #[error("tier bounds must be positive and strictly increasing")]
    TierBoundsNotIncreasing,
    #[error("a price (or a tier price plus a period adjustment) is negative")]
    NegativePrice,
    #[error("a service charge is negative")]
    NegativeServiceCharge,
    #[error("no tariff versions")]
    NoVersions,
    #[error("two versions take effect at the same time {0}")]
    DuplicateEffectiveFrom(DateTime<Utc>),
}

/// How energy is priced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pricing {
    /// One price per kWh at all times.
    Flat {
        #[serde(with = "rust_decimal::serde::str")]
        price: Decimal,
    },
    /// A price per period of the day.
    TimeOfUse { rates: TouRates },
    /// Tier prices over cumulative consumption per cycle, plus an optional per-period
    /// adjustment (its `prices` are added to the tier price and may be negative).
    Tiered {
        cycle: TierCycle,
        tiers: Vec<Tier>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tou_adjustment: Option<TouRates>,
    },
}

/// A charge on top of energy. Fixed charges accrue pro rata by time between readings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServiceCharge {
    PerDay {
        amount: Money,
    },
    PerMonth {
        amount: Money,
    },
    /// A percentage of the energy charge (`"5"` = 5 %).
    PercentOfEnergy {
        #[serde(with = "rust_decimal::serde::str")]
        percent: Decimal,
    },
}

/// One version of a tariff, in force from `effective_from` until the next version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TariffVersion {
    pub effective_from: DateTime<Utc>,
    pub pricing: Pricing,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_charges: Vec<ServiceCharge>,
}

impl TariffVersion {
    pub fn validate(&self) -> Result<(), TariffError> {
        match &self.pricing {
            Pricing::Flat { price } => non_negative(*price)?,
            Pricing::TimeOfUse { rates } => {
                rates.validate()?;
                rates
                    .prices
                    .iter()
                    .try_for_each(|p| non_negative(p.price))?;
            }
            Pricing::Tiered {
                tiers,
                tou_adjustment,
                ..
            } => {
                tiers::validate(tiers)?;
                if let Some(adjustment) = tou_adjustment {
                    adjustment.validate()?;
                    let cheapest = tiers.iter().map(|t| t.price).min().unwrap_or_default();
                    non_negative(cheapest + adjustment.lowest_price())?;
                }
            }
        }
        for charge in &self.service_charges {
            let negative = match charge {
                ServiceCharge::PerDay { amount } | ServiceCharge::PerMonth { amount } => {
                    amount.is_negative()
                }
                ServiceCharge::PercentOfEnergy { percent } => percent.is_sign_negative(),
            };
            if negative {
                return Err(TariffError::NegativeServiceCharge);
            }
        }
        Ok(())
    }

    /// The time-of-use rates this version splits consumption by, if any.
    pub fn tou_rates(&self) -> Option<&TouRates> {
        match &self.pricing {
            Pricing::Flat { .. } => None,
            Pricing::TimeOfUse { rates } => Some(rates),
            Pricing::Tiered { tou_adjustment, .. } => tou_adjustment.as_ref(),
        }
    }

    /// The tier cycle, for tiered pricing.
    pub fn tier_cycle(&self) -> Option<TierCycle> {
        match &self.pricing {
            Pricing::Tiered { cycle, .. } => Some(*cycle),
            _ => None,
        }
    }
}

fn non_negative(price: Decimal) -> Result<(), TariffError> {
    if price.is_sign_negative() && !price.is_zero() {
        Err(TariffError::NegativePrice)
    } else {
        Ok(())
    }
}

/// All versions of one tariff, validated and sorted by `effective_from`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<TariffVersion>", into = "Vec<TariffVersion>")]
pub struct TariffVersions(Vec<TariffVersion>);

impl TariffVersions {
    pub fn new(mut versions: Vec<TariffVersion>) -> Result<Self, TariffError> {
        if versions.is_empty() {
            return Err(TariffError::NoVersions);
        }
        versions.iter().try_for_each(TariffVersion::validate)?;
        versions.sort_by_key(|v| v.effective_from);
        if let Some(pair) = versions
            .windows(2)
            .find(|w| w[0].effective_from == w[1].effective_from)
        {
            return Err(TariffError::DuplicateEffectiveFrom(pair[0].effective_from));
        }
        Ok(TariffVersions(versions))
    }

    /// The version in force at `at`: the latest one with `effective_from <= at`.
    pub fn in_force_at(&self, at: DateTime<Utc>) -> Option<&TariffVersion> {
        self.0.iter().rev().find(|v| v.effective_from <= at)
    }

    /// The first version change strictly after `at`.
    pub fn next_change_after(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0
            .iter()
            .map(|v| v.effective_from)
            .find(|from| *from > at)
    }

    pub fn versions(&self) -> &[TariffVersion] {
        &self.0
    }
}

impl TryFrom<Vec<TariffVersion>> for TariffVersions {
    type Error = TariffError;
    fn try_from(versions: Vec<TariffVersion>) -> Result<Self, Self::Error> {
        TariffVersions::new(versions)
    }
}

impl From<TariffVersions> for Vec<TariffVersion> {
    fn from(versions: TariffVersions) -> Self {
        versions.0
    }
}
