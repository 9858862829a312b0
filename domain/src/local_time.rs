//! Local wall-clock times of day (`"08:00"`) and ranges of them, as tariffs and trip windows use.
//!
//! A time is a minute of the day; `"24:00"` is allowed as the end of a range. A range is
//! half-open `[start, end)` and crosses midnight when `end <= start` (`22:00`–`08:00`);
//! `00:00`–`24:00` is the whole day. A range with `start == end` is empty and rejected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// A minute of the local day, 0 (`00:00`) to 1440 (`24:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalTime(u16);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalTimeError {
    #[error("`{0}` is not a time of day like 08:00")]
    Malformed(String),
}

impl LocalTime {
    pub const MIDNIGHT: LocalTime = LocalTime(0);
    pub const END_OF_DAY: LocalTime = LocalTime(MINUTES_PER_DAY);

    pub fn hm(hour: u16, minute: u16) -> Result<Self, LocalTimeError> {
        let total = hour * 60 + minute;
        if minute >= 60 || total > MINUTES_PER_DAY {
            return Err(LocalTimeError::Malformed(format!("{hour:02}:{minute:02}")));
        }
        Ok(LocalTime(total))
    }

    /// Minutes since local midnight.
    pub const fn minutes(self) -> u16 {
        self.0
    }
}

impl FromStr for LocalTime {
    type Err = LocalTimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || LocalTimeError::Malformed(s.to_owned());
        let (h, m) = s.split_once(':').ok_or_else(malformed)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(malformed());
        }
        let hour: u16 = h.parse().map_err(|_| malformed())?;
        let minute: u16 = m.parse().map_err(|_| malformed())?;
        LocalTime::hm(hour, minute).map_err(|_| malformed())
    }
}

impl TryFrom<String> for LocalTime {
    type Error = LocalTimeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<LocalTime> for String {
    fn from(t: LocalTime) -> String {
        t.to_string()
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// A half-open range of local time `[start, end)`, crossing midnight when `end <= start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalRange {
    pub start: LocalTime,
    pub end: LocalTime,
}

impl LocalRange {
    pub fn new(start: LocalTime, end: LocalTime) -> Self {
        LocalRange { start, end }
    }

    /// Empty when both ends name the same minute of the day (`08:00`–`08:00`, `00:00`–`00:00`).
    pub fn is_empty(self) -> bool {
        self.start.0 % MINUTES_PER_DAY == self.end.0 % MINUTES_PER_DAY
            && !(self.start.0 == 0 && self.end.0 == MINUTES_PER_DAY)
    }

    /// Whether the minute of the day `minute` (0..1440) falls in the range.
    pub fn contains_minute(self, minute: u16) -> bool {
        let (start, end) = (self.start.0 % MINUTES_PER_DAY, self.end.0);
        if self.start.0 == 0 && self.end.0 == MINUTES_PER_DAY {
            return true;
        }
        let end = end % MINUTES_PER_DAY;
        if start < end {
            (start..end).contains(&minute)
        } else {
            minute >= start || minute < end
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(s: &str) -> LocalTime {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(t("08:30").minutes(), 510);
        assert_eq!(t("24:00"), LocalTime::END_OF_DAY);
        assert_eq!(t("07:05").to_string(), "07:05");
        for bad in ["8:00", "24:01", "12:60", "ab:cd", "1200"] {
            assert!(bad.parse::<LocalTime>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_cross_midnight() {
        let night = LocalRange::new(t("22:00"), t("08:00"));
        assert!(night.contains_minute(t("23:59").minutes()));
        assert!(night.contains_minute(0));
        assert!(!night.contains_minute(t("08:00").minutes()));
        let day = LocalRange::new(t("00:00"), t("24:00"));
        assert!(day.contains_minute(0) && day.contains_minute(1439));
        assert!(!day.is_empty());
        assert!(LocalRange::new(t("08:00"), t("08:00")).is_empty());
    }
}
