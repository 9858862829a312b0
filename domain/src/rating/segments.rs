//! Cutting the interval between two readings into segments over which nothing changes: the
//! tariff version, the tier cycle, the calendar month (for monthly service charges) and, when
//! consumption is attributed by time, the time-of-use period. All cuts are in the site's local
//! time; shares of an interval are by milliseconds, so they are exact.

use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::RatingError;
use crate::tariff::{ServiceCharge, TariffVersion, TariffVersions, TierCycle, TouPeriod};

/// A stretch `[start, end)` of the interval with one version and, if split by time, one period.
#[derive(Clone, Debug)]
pub(crate) struct Segment<'a> {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub version: &'a TariffVersion,
    pub period: Option<TouPeriod>,
}

impl Segment<'_> {
    pub fn millis(&self) -> i64 {
        (self.end - self.start).num_milliseconds()
    }
}

/// Segments covering `[from, to)` exactly, in time order. With `split_tou`, also cut where the
/// time-of-use period of the version in force changes, and record that period.
pub(crate) fn segments(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    versions: &TariffVersions,
    tz: Tz,
    split_tou: bool,
) -> Result<Vec<Segment<'_>>, RatingError> {
    let mut out = Vec::new();
    let mut cursor = from;
    while cursor < to {
        let version = versions
            .in_force_at(cursor)
            .ok_or(RatingError::NoTariffInForce(cursor))?;
        let mut end = to;
        if let Some(change) = versions.next_change_after(cursor) {
            end = end.min(change);
        }
        if let Some(cycle) = version.tier_cycle() {
            end = end.min(cycle.next_start(cursor, tz));
        }
        let monthly_charge = version
            .service_charges
            .iter()
            .any(|c| matches!(c, ServiceCharge::PerMonth { .. }));
        if monthly_charge {
            end = end.min(TierCycle::Monthly.next_start(cursor, tz));
        }
        let mut period = None;
        if split_tou {
            if let Some(rates) = version.tou_rates() {
                let local = cursor.with_timezone(&tz).naive_local();
                let minute = u16::try_from(local.num_seconds_from_midnight() / 60).unwrap_or(0);
                period = rates.period_at(minute);
                end = end.min(next_boundary(cursor, local, &rates.boundaries(), tz));
            }
        }
        out.push(Segment {
            start: cursor,
            end,
            version,
            period,
        });
        cursor = end;
    }
    Ok(out)
}

/// The first instant after `cursor` whose local time is one of `boundaries` (minutes of day).
fn next_boundary(
    cursor: DateTime<Utc>,
    local: NaiveDateTime,
    boundaries: &[u16],
    tz: Tz,
) -> DateTime<Utc> {
    let seconds = local.num_seconds_from_midnight();
    let today = local.date();
    let naive = boundaries
        .iter()
        .map(|b| u32::from(*b) * 60)
        .find(|b| *b > seconds)
        .map(|b| today.and_time(chrono::NaiveTime::MIN) + TimeDelta::seconds(i64::from(b)))
        .or_else(|| {
            let first = u32::from(*boundaries.first()?) * 60;
            let tomorrow = today.succ_opt()?;
            Some(tomorrow.and_time(chrono::NaiveTime::MIN) + TimeDelta::seconds(i64::from(first)))
        });
    let fallback = cursor + TimeDelta::minutes(1);
    let Some(mut naive) = naive else {
        return fallback;
    };
    // A boundary inside a DST gap does not exist locally: the change happens when the clock
    // jumps, which is the first existing local time after it.
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&naive).earliest() {
            let t = t.with_timezone(&Utc);
            return if t > cursor { t } else { fallback };
        }
        naive += TimeDelta::minutes(30);
    }
    fallback
}
