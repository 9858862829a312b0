//! Quiet hours: a daily period in the site's local time (e.g. 22:00–08:00) during which
//! non-urgent messages are not sent; they wait until the period ends. The rule about which
//! messages are urgent is [`super::template::urgent`].

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A daily quiet period, `start` inclusive, `end` exclusive; crosses midnight when
/// `start > end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// Parses `HH:MM`.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

impl QuietHours {
    /// `HH:MM-HH:MM`; `off` or empty is none. An equal start and end is refused.
    pub fn parse(s: &str) -> Result<Option<QuietHours>, String> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad = || format!("quiet hours must be HH:MM-HH:MM or off (got {s:?})");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let (start, end) = (
            parse_time(a).ok_or_else(bad)?,
            parse_time(b).ok_or_else(bad)?,
        );
        if start == end {
            return Err(bad());
        }
        Ok(Some(QuietHours { start, end }))
    }

    /// When the quiet period that contains `now` (in `tz`) ends; `None` when `now` is not in
    /// one.
    pub fn ends_after(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&tz);
        let t = local.time();
        let date = local.date_naive();
        let end_date = if self.start < self.end {
            if t >= self.start && t < self.end {
                date
            } else {
                return None;
            }
        } else if t >= self.start {
            date.succ_opt()?
        } else if t < self.end {
            date
        } else {
            return None;
        };
        // A daylight-saving gap at the end time: the first instant after it.
        let naive = end_date.and_time(self.end);
        tz.from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(naive + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn across_midnight_in_local_time() {
        let q = QuietHours::parse("22:00-08:00").unwrap().unwrap();
        let tz = chrono_tz::Asia::Shanghai;
        let at = |h, m| Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap();
        // 13:59 UTC is 21:59 in Shanghai: not quiet; 14:00 is 22:00: quiet until 08:00 next day.
        assert_eq!(q.ends_after(at(13, 59), tz), None);
        assert_eq!(
            q.ends_after(at(14, 0), tz),
            Some(at(0, 0) + Duration::days(1))
        );
        // 23:30 UTC is 07:30 the next morning: quiet until 08:00 that morning (00:00 UTC).
        assert_eq!(
            q.ends_after(at(23, 30), tz),
            Some(at(0, 0) + Duration::days(1))
        );
        assert_eq!(q.ends_after(at(0, 0), tz), None);
        let day = QuietHours::parse("12:00-13:30").unwrap().unwrap();
        assert_eq!(day.ends_after(at(4, 15), tz), Some(at(5, 30)));
        assert_eq!(day.ends_after(at(5, 30), tz), None);
        assert_eq!(QuietHours::parse("off").unwrap(), None);
        assert!(QuietHours::parse("22-8").is_err());
        assert!(QuietHours::parse("08:00-08:00").is_err());
    }
}
