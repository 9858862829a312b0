//! Property tests of charge control: no trip while protected, outside a window, or above the
//! trip threshold (except an operator's force trip, which still respects protection); every
//! change carries a cause; every state is reachable.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use domain::{
    step, Action, Cause, ControlSettings, ControlState, Event, HolidayCalendar, Money, Relay,
    RelayCommand, Status, TripWindows,
};
use proptest::prelude::*;

fn start() -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(2025, 9, 26, 7, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn calendar() -> HolidayCalendar {
    let date = |m, d| NaiveDate::from_ymd_opt(2025, m, d).unwrap();
    HolidayCalendar {
        holidays: (1..=8).map(|d| date(10, d)).collect(),
        working_days: [date(9, 28), date(10, 11)].into_iter().collect(),
    }
}

fn settings(alarm: i64, trip: i64, protected: bool, windows: u8) -> ControlSettings {
    ControlSettings {
        alarm_threshold: Money::from_fen(alarm.max(trip)),
        trip_threshold: Money::from_fen(trip),
        protected,
        trip_windows: if windows == 0 {
            TripWindows::always()
        } else {
            TripWindows::working_hours()
        },
        holidays: calendar(),
        restore_sla: TimeDelta::minutes(10),
    }
}

fn event() -> impl Strategy<Value = (i64, Event)> {
    let minutes = 0i64..900;
    let ev = prop_oneof![
        4 => (-20_000i64..20_000).prop_map(|f| Event::BalanceChanged(Money::from_fen(f))),
        2 => (-20_000i64..20_000).prop_map(|f| Event::PaymentReceived(Money::from_fen(f))),
        4 => Just(Event::Tick),
        1 => Just(Event::RelayObserved(Relay::Open)),
        2 => Just(Event::RelayObserved(Relay::Closed)),
        1 => Just(Event::ForceTrip),
        1 => (1i64..600).prop_map(|m| Event::ForceClose { until: start() + TimeDelta::days(30) + TimeDelta::minutes(m) }),
        1 => Just(Event::Release),
        1 => Just(Event::Protect),
        1 => Just(Event::Unprotect),
    ];
    (minutes, ev)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn trips_only_when_allowed_and_every_change_has_a_cause(
        alarm in -5_000i64..5_000,
        trip in -5_000i64..5_000,
        protected in any::<bool>(),
        windows in 0u8..2,
        opening in -10_000i64..10_000,
        events in prop::collection::vec(event(), 1..60),
    ) {
        let mut s = settings(alarm, trip, protected, windows);
        let mut state = ControlState::new(Money::from_fen(opening));
        let mut now = start();
        for (minutes, event) in events {
            now += TimeDelta::minutes(minutes);
            let t = step(&state, &event, &s, now, Shanghai);
            // The caller persists the protected flag the operator set.
            match event {
                Event::Protect => s.protected = true,
                Event::Unprotect => s.protected = false,
                _ => {}
            }
            if t.actions.contains(&Action::SendCommand(RelayCommand::Trip)) {
                prop_assert!(!s.protected, "trip while protected: {:?} {:?}", state, event);
                if event != Event::ForceTrip {
                    prop_assert!(s.trip_windows.is_open(now, Shanghai, &s.holidays), "trip outside window at {}", now);
                    prop_assert!(t.state.balance <= s.trip_threshold, "trip above threshold: {:?}", t.state);
                }
            }
            if t.state.status != state.status || !t.actions.is_empty() {
                prop_assert_ne!(t.cause, Cause::NoChange, "{:?} --{:?}--> {:?}", state, event, t);
            }
            // Protection also means no account waits for, or stays in, a cut.
            if s.protected {
                let cut = matches!(t.state.status, Status::TripPending | Status::Tripped | Status::ForceTripped);
                prop_assert!(!cut, "protected account in {:?}", t.state.status);
            }
            state = t.state;
        }
    }
}

/// Explores the machine from `normal` over a small set of balances, times and operator actions,
/// and checks that every status is reached and every change is caused.
#[test]
fn every_state_is_reachable() {
    let open_time = start() + TimeDelta::hours(3); // Friday 10:00, a working day
    let closed_time = start() + TimeDelta::hours(14); // Friday 21:00
    let later = open_time + TimeDelta::days(3); // Monday 10:00
    let events = [
        Event::BalanceChanged(Money::from_fen(5_000)),
        Event::BalanceChanged(Money::from_fen(1_000)),
        Event::BalanceChanged(Money::from_fen(-1_000)),
        Event::PaymentReceived(Money::from_fen(8_000)),
        Event::Tick,
        Event::RelayObserved(Relay::Open),
        Event::RelayObserved(Relay::Closed),
        Event::ForceTrip,
        Event::ForceClose {
            until: open_time + TimeDelta::hours(1),
        },
        Event::Release,
        Event::Protect,
        Event::Unprotect,
    ];
    let mut seen: Vec<(ControlState, bool)> =
        vec![(ControlState::new(Money::from_fen(5_000)), false)];
    let mut names: Vec<&str> = Vec::new();
    let mut index = 0;
    while index < seen.len() && seen.len() < 5_000 {
        let (state, protected) = seen[index];
        index += 1;
        names.push(state.status.name());
        for now in [open_time, closed_time, later] {
            let s = settings(2_000, 0, protected, 1);
            for event in &events {
                let t = step(&state, event, &s, now, Shanghai);
                if t.state.status != state.status || !t.actions.is_empty() {
                    assert_ne!(t.cause, Cause::NoChange, "{state:?} --{event:?}--> {t:?}");
                }
                let protected = match event {
                    Event::Protect => true,
                    Event::Unprotect => false,
                    _ => protected,
                };
                if !seen.contains(&(t.state, protected)) {
                    seen.push((t.state, protected));
                }
            }
        }
    }
    for name in [
        "normal",
        "alarmed",
        "trip_pending",
        "tripped",
        "restoring",
        "force_tripped",
        "force_closed",
    ] {
        assert!(names.contains(&name), "{name} never reached; saw {names:?}");
    }
}
