//! What rating remembers about a meter between readings; the store persists it as JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AnomalyKind, MeterReading};
use crate::money::{Energy, Money};
use crate::tariff::{CycleKey, TouPeriod};

/// Consumption so far in the current tier cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleUsage {
    pub key: CycleKey,
    pub kwh: Energy,
}

/// The last rated state of one meter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingState {
    /// Time of the last reading rated (or taken as the baseline).
    pub last_ts: DateTime<Utc>,
    /// Total active energy register at `last_ts` (before the CT ratio).
    pub last_total: Energy,
    /// Time-of-use registers at `last_ts`, when the meter has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tou: Option<BTreeMap<TouPeriod, Energy>>,
    /// Exact cumulative charge of this meter, never rounded, in yuan.
    #[serde(with = "rust_decimal::serde::str")]
    pub exact_charge: Decimal,
    /// What has been posted to the ledger so far: always `exact_charge` rounded to the fen.
    pub posted: Money,
    /// Consumption in the current tier cycle (kWh after the CT ratio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle: Option<CycleUsage>,
    /// Set when a reading was an anomaly: nothing is rated until an operator resets the baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<AnomalyKind>,
}

impl RatingState {
    /// The state of a meter whose first reading this is: nothing charged yet.
    pub fn baseline(reading: &MeterReading) -> Self {
        RatingState {
            last_ts: reading.ts,
            last_total: reading.total,
            last_tou: reading.tou.clone(),
            exact_charge: Decimal::ZERO,
            posted: Money::ZERO,
            cycle: None,
            anomaly: None,
        }
    }

    /// After an operator resolved an anomaly: resume rating from `reading`, keeping the money
    /// and the tier cycle. Consumption between the last rated reading and `reading` is not
    /// charged here; an operator who wants it charged posts an adjustment.
    #[must_use]
    pub fn reset_baseline(&self, reading: &MeterReading) -> Self {
        RatingState {
            last_ts: reading.ts,
            last_total: reading.total,
            last_tou: reading.tou.clone(),
            anomaly: None,
            ..self.clone()
        }
    }
}
