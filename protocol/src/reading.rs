//! `ReadingBatch`: what a gateway read from its meters, published on `up/readings`.
//!
//! A reading carries either values or an `error`, never both; the type says so
//! ([`ReadingOutcome`]) and parsing refuses a payload that has both. Values are the meter's
//! cumulative registers as decimal strings with the precision the meter gives; `relay` is
//! omitted when the meter cannot report it.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id::{GatewayId, MeterId};
use crate::wire::V1;

/// One batch of readings from one gateway. `(gateway, batch)` is an idempotency key: batch
/// numbers strictly increase per gateway, across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingBatch {
    pub v: V1,
    pub gateway: GatewayId,
    pub batch: u64,
    pub readings: Vec<Reading>,
}

/// One sample of one meter at `ts` (when the meter was read, not when the batch was sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawReading", into = "RawReading")]
pub struct Reading {
    pub meter: MeterId,
    pub ts: DateTime<Utc>,
    pub outcome: ReadingOutcome,
}

/// Values read, or why nothing was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadingOutcome {
    Values(ReadingValues),
    Error(ReadFailure),
}

/// The values of a successful read; each is absent when the meter's map has no register for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadingValues {
    /// Total active energy, cumulative kWh.
    pub energy_kwh: Option<Decimal>,
    /// Time-of-use registers, cumulative kWh, when the meter has them.
    pub tou_kwh: Option<TouKwh>,
    pub voltage_v: Option<Decimal>,
    pub current_a: Option<Decimal>,
    pub power_kw: Option<Decimal>,
    pub relay: Option<RelayState>,
}

/// Time-of-use energy registers (尖峰平谷); each optional, since meters differ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TouKwh {
    #[serde(
        default,
        with = "crate::decimal::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub sharp: Option<Decimal>,
    #[serde(
        default,
        with = "crate::decimal::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub peak: Option<Decimal>,
    #[serde(
        default,
        with = "crate::decimal::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub flat: Option<Decimal>,
    #[serde(
        default,
        with = "crate::decimal::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub valley: Option<Decimal>,
}

/// The state of a meter's relay, as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayState {
    /// Power cut (tripped).
    Open,
    /// Power on.
    Closed,
}

/// Why a meter could not be read: the `error` string of a reading.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReadFailure {
    /// `timeout`: no answer in time.
    Timeout,
    /// `exception:<code>`: the meter answered with a Modbus exception code.
    Exception(u8),
    /// `decode`: an answer that could not be turned into values.
    Decode,
    /// Anything else the agent reports, kept verbatim (never empty).
    Other(String),
}

impl ReadFailure {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "" => None,
            "timeout" => Some(Self::Timeout),
            "decode" => Some(Self::Decode),
            _ => {
                // Only the canonical spelling becomes `Exception`, so the string round-trips.
                let code = s
                    .strip_prefix("exception:")
                    .and_then(|c| c.parse::<u8>().ok())
                    .filter(|c| s == format!("exception:{c}"));
                Some(code.map_or_else(|| Self::Other(s.to_owned()), Self::Exception))
            }
        }
    }
}

impl fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timeout"),
            Self::Exception(code) => write!(f, "exception:{code}"),
            Self::Decode => f.write_str("decode"),
            Self::Other(s) => f.write_str(s),
        }
    }
}

impl Serialize for ReadFailure {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReadFailure {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom("a reading's `error` is empty"))
    }
}

/// The wire shape of a reading, every field optional; [`Reading`] is what it may mean.
#[derive(Serialize, Deserialize)]
struct RawReading {
    meter: MeterId,
    ts: DateTime<Utc>,
    #[serde(
        default,
        with = "crate::decimal::option",
        skip_serializing_if = "Option::is_none"
    )]
    energy_kwh: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tou_kwh: Option<TouKwh>,
    #[serde(
        default,
        with = "crate::decimal::option",
        skip_serializing_if = "Option::is_none"
    )]
    voltage_v: Option<Decimal>,
    #[serde(
        default,
        with = "crate::decimal::option",
        skip_serializing_if = "Option::is_none"
    )]
    current_a: Option<Decimal>,
    #[serde(
        default,
        with = "crate::decimal::option",
        skip_serializing_if = "Option::is_none"
    )]
    power_kw: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    relay: Option<RelayState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<ReadFailure>,
}

/// Refusal of a reading that has both values and an `error`.
#[derive(Debug, thiserror::Error)]
#[error("reading of meter {meter} at {ts} carries both values and `error`")]
pub struct ValuesAndError {
    meter: MeterId,
    ts: DateTime<Utc>,
}

impl TryFrom<RawReading> for Reading {
    type Error = ValuesAndError;

    fn try_from(raw: RawReading) -> Result<Self, Self::Error> {
        let values = ReadingValues {
            energy_kwh: raw.energy_kwh,
            tou_kwh: raw.tou_kwh,
            voltage_v: raw.voltage_v,
            current_a: raw.current_a,
            power_kw: raw.power_kw,
            relay: raw.relay,
        };
        let outcome = match raw.error {
            None => ReadingOutcome::Values(values),
            Some(error) if values == ReadingValues::default() => ReadingOutcome::Error(error),
            Some(_) => {
                return Err(ValuesAndError {
                    meter: raw.meter,
                    ts: raw.ts,
                })
            }
        };
        Ok(Self {
            meter: raw.meter,
            ts: raw.ts,
            outcome,
        })
    }
}

impl From<Reading> for RawReading {
    fn from(r: Reading) -> Self {
        let (values, error) = match r.outcome {
            ReadingOutcome::Values(v) => (v, None),
            ReadingOutcome::Error(e) => (ReadingValues::default(), Some(e)),
        };
        Self {
            meter: r.meter,
            ts: r.ts,
            energy_kwh: values.energy_kwh,
            tou_kwh: values.tou_kwh,
            voltage_v: values.voltage_v,
            current_a: values.current_a,
            power_kw: values.power_kw,
            relay: values.relay,
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_failures_round_trip() {
        for s in [
            "timeout",
            "decode",
            "exception:2",
            "exception:02",
            "crc",
            "exception:x",
        ] {
            let f = ReadFailure::parse(s).unwrap();
            assert_eq!(f.to_string(), s);
        }
        assert_eq!(
            ReadFailure::parse("exception:2"),
            Some(ReadFailure::Exception(2))
        );
        assert_eq!(
            ReadFailure::parse("exception:02"),
            Some(ReadFailure::Other("exception:02".into()))
        );
        assert_eq!(ReadFailure::parse(""), None);
    }

    #[test]
    fn values_and_error_together_are_refused() {
        let json =
            r#"{"meter":"m-1","ts":"2026-11-21T08:00:00Z","relay":"open","error":"timeout"}"#;
        let err = serde_json::from_str::<Reading>(json).unwrap_err();
        assert!(err.to_string().contains("both values and `error`"), "{err}");
    }

    #[test]
    fn relay_is_omitted_when_unknown() {
        let r = Reading {
            meter: MeterId::parse("m-1").unwrap(),
            ts: "2026-11-21T08:00:00.250Z".parse().unwrap(),
            outcome: ReadingOutcome::Values(ReadingValues {
                energy_kwh: Some(Decimal::new(12_345, 2)),
                ..ReadingValues::default()
            }),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"meter":"m-1","ts":"2026-11-21T08:00:00.250Z","energy_kwh":"123.45"}"#
        );
    }
}
