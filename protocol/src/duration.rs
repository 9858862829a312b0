//! Durations in configuration: strings like `"60s"`, `"500ms"`, `"1m"`, `"2h"`.
//!
//! The amount and unit are kept as written so a config goes back out exactly as it came in
//! (`"60s"` stays `"60s"`, not `"1m"`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationUnit {
    Millis,
    Seconds,
    Minutes,
    Hours,
}

impl DurationUnit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Millis => "ms",
            Self::Seconds => "s",
            Self::Minutes => "m",
            Self::Hours => "h",
        }
    }

    fn millis(self) -> u64 {
        match self {
            Self::Millis => 1,
            Self::Seconds => 1_000,
            Self::Minutes => 60_000,
            Self::Hours => 3_600_000,
        }
    }
}

/// A configured duration such as `"500ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConfigDuration {
    amount: u32,
    unit: DurationUnit,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("duration {0:?} is not a whole number followed by ms, s, m or h (like \"500ms\")")]
pub struct DurationError(String);

impl ConfigDuration {
    pub const fn new(amount: u32, unit: DurationUnit) -> Self {
        Self { amount, unit }
    }

    pub const fn millis(amount: u32) -> Self {
        Self::new(amount, DurationUnit::Millis)
    }

    pub const fn seconds(amount: u32) -> Self {
        Self::new(amount, DurationUnit::Seconds)
    }

    pub fn parse(s: &str) -> Result<Self, DurationError> {
        let split = s
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| DurationError(s.to_owned()))?;
        let (digits, unit) = s.split_at(split);
        let unit = match unit {
            "ms" => DurationUnit::Millis,
            "s" => DurationUnit::Seconds,
            "m" => DurationUnit::Minutes,
            "h" => DurationUnit::Hours,
            _ => return Err(DurationError(s.to_owned())),
        };
        let amount = digits.parse().map_err(|_| DurationError(s.to_owned()))?;
        Ok(Self { amount, unit })
    }

    pub fn as_std(self) -> Duration {
        // u32 amount × at most 3.6e6 ms always fits in u64.
        Duration::from_millis(u64::from(self.amount) * self.unit.millis())
    }

    pub fn is_zero(self) -> bool {
        self.amount == 0
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.as_str())
    }
}

impl std::str::FromStr for ConfigDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<ConfigDuration> for Duration {
    fn from(d: ConfigDuration) -> Self {
        d.as_std()
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_keeps_the_spelling() {
        for (s, ms) in [
            ("60s", 60_000),
            ("500ms", 500),
            ("1m", 60_000),
            ("2h", 7_200_000),
            ("0s", 0),
        ] {
            let d = ConfigDuration::parse(s).unwrap();
            assert_eq!(d.as_std(), Duration::from_millis(ms), "{s}");
            assert_eq!(d.to_string(), s);
        }
    }

    #[test]
    fn refuses_other_spellings() {
        for s in [
            "",
            "60",
            "s",
            "1.5s",
            "-1s",
            "1 s",
            "1sec",
            "1d",
            "99999999999ms",
        ] {
            assert_eq!(
                ConfigDuration::parse(s),
                Err(DurationError(s.to_owned())),
                "{s}"
            );
        }
        assert!(serde_json::from_str::<ConfigDuration>("60").is_err());
    }
}
