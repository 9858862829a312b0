//! When an automatic trip may be executed: allowed local times of day, and whether weekends
//! and public holidays are allowed. Tenants must not lose power at night or on a holiday
//! because their balance ran out then; the trip waits for the next window.

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::holiday::{DayKind, HolidayCalendar};
use crate::local_time::{LocalRange, LocalTime};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TripWindows {
    /// Local times of day when trips are allowed (half-open; may cross midnight). Empty: never.
    pub times: Vec<LocalRange>,
    pub allow_weekends: bool,
    pub allow_holidays: bool,
}

impl TripWindows {
    /// Any time of any day.
    pub fn always() -> Self {
        TripWindows {
            times: vec![LocalRange::new(LocalTime::MIDNIGHT, LocalTime::END_OF_DAY)],
            allow_weekends: true,
            allow_holidays: true,
        }
    }

    /// Working days 09:00–17:00: a common, tenant-friendly default.
    pub fn working_hours() -> Self {
        let hour = |h| LocalTime::hm(h, 0).unwrap_or(LocalTime::MIDNIGHT);
        TripWindows {
            times: vec![LocalRange::new(hour(9), hour(17))],
            allow_weekends: false,
            allow_holidays: false,
        }
    }

    /// Whether a trip may be executed at `now` in the site's time zone.
    pub fn is_open(&self, now: DateTime<Utc>, tz: Tz, calendar: &HolidayCalendar) -> bool {
        let local = now.with_timezone(&tz);
        let minute = u16::try_from(local.num_seconds_from_midnight() / 60).unwrap_or(0);
        if !self.times.iter().any(|range| range.contains_minute(minute)) {
            return false;
        }
        match calendar.day_kind(local.date_naive()) {
            DayKind::Working => true,
            DayKind::Weekend => self.allow_weekends,
            DayKind::Holiday => self.allow_holidays,
        }
    }
}
