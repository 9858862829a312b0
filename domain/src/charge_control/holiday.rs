//! Public holidays and make-up working days (调休), as data an admin updates each year.
//!
//! China moves weekends around its holidays: some Saturdays and Sundays become working days.
//! A date listed as a working day is one whatever its weekday; a listed holiday is a holiday;
//! otherwise Saturday and Sunday are the weekend.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// What kind of day a local date is, for trip windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayKind {
    Working,
    Weekend,
    Holiday,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolidayCalendar {
    /// Public holidays (dates like `"2025-10-01"`).
    #[serde(default)]
    pub holidays: BTreeSet<NaiveDate>,
    /// Make-up working days: weekend dates that are working days (调休上班).
    #[serde(default)]
    pub working_days: BTreeSet<NaiveDate>,
}

impl HolidayCalendar {
    pub fn day_kind(&self, date: NaiveDate) -> DayKind {
        if self.working_days.contains(&date) {
            DayKind::Working
        } else if self.holidays.contains(&date) {
            DayKind::Holiday
        } else if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            DayKind::Weekend
        } else {
            DayKind::Working
        }
    }
}
