//! Concrete charge-control scenarios, including China's holiday calendar with make-up days.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use domain::{
    step, Action, Cause, ControlSettings, ControlState, Event, HolidayCalendar, Money, NotifyKind,
    Relay, RelayCommand, Status, TripWindows, WorkOrderKind,
};

fn local(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// 2025 National Day and Mid-Autumn: Oct 1–8 off; Sunday Sep 28 and Saturday Oct 11 worked.
fn national_day_2025() -> HolidayCalendar {
    let date = |m, d| NaiveDate::from_ymd_opt(2025, m, d).unwrap();
    HolidayCalendar {
        holidays: (1..=8).map(|d| date(10, d)).collect(),
        working_days: [date(9, 28), date(10, 11)].into_iter().collect(),
    }
}

fn settings() -> ControlSettings {
    ControlSettings {
        alarm_threshold: Money::from_fen(2000),
        trip_threshold: Money::ZERO,
        protected: false,
        trip_windows: TripWindows::working_hours(),
        holidays: national_day_2025(),
        restore_sla: TimeDelta::minutes(5),
    }
}

fn state(status: Status, fen: i64) -> ControlState {
    ControlState {
        status,
        balance: Money::from_fen(fen),
    }
}

#[test]
fn trip_windows_follow_the_holiday_calendar_with_make_up_days() {
    let w = TripWindows::working_hours();
    let cal = national_day_2025();
    // Sunday 28 September 2025 is a make-up working day: trips allowed at 10:00.
    assert!(w.is_open(local(2025, 9, 28, 10), Shanghai, &cal));
    // Wednesday 1 October is a holiday; Saturday 11 October is worked; Sunday 12 is not.
    assert!(!w.is_open(local(2025, 10, 1, 10), Shanghai, &cal));
    assert!(w.is_open(local(2025, 10, 11, 10), Shanghai, &cal));
    assert!(!w.is_open(local(2025, 10, 12, 10), Shanghai, &cal));
    // A working day, but at night.
    assert!(!w.is_open(local(2025, 10, 9, 20), Shanghai, &cal));
}

#[test]
fn balance_runs_out_on_a_holiday_and_trips_on_the_first_working_morning() {
    let s = settings();
    let normal = state(Status::Normal, 5000);
    let t = step(
        &normal,
        &Event::BalanceChanged(Money::from_fen(1500)),
        &s,
        local(2025, 10, 2, 10),
        Shanghai,
    );
    assert_eq!(t.state.status, Status::Alarmed);
    assert_eq!(t.cause, Cause::BalanceLow);
    assert_eq!(
        t.actions,
        vec![
            Action::SendCommand(RelayCommand::AlarmOn),
            Action::Notify(NotifyKind::LowBalance)
        ]
    );

    let t = step(
        &t.state,
        &Event::BalanceChanged(Money::from_fen(-10)),
        &s,
        local(2025, 10, 3, 10),
        Shanghai,
    );
    assert_eq!(t.state.status, Status::TripPending);
    assert!(!t.actions.contains(&Action::SendCommand(RelayCommand::Trip)));

    // Ticks through the rest of the holiday do nothing.
    let quiet = step(&t.state, &Event::Tick, &s, local(2025, 10, 8, 12), Shanghai);
    assert_eq!((quiet.state, quiet.cause), (t.state, Cause::NoChange));
    assert!(quiet.actions.is_empty());

    // Thursday 9 October, 09:00: the window opens.
    let t = step(&t.state, &Event::Tick, &s, local(2025, 10, 9, 9), Shanghai);
    assert_eq!(t.state.status, Status::Tripped);
    assert_eq!(t.cause, Cause::TripWindowOpened);
    assert!(t.actions.contains(&Action::SendCommand(RelayCommand::Trip)));

    // A payment restores: close now, normal once the relay is seen closed.
    let paid = local(2025, 10, 9, 19);
    let t = step(
        &t.state,
        &Event::PaymentReceived(Money::from_fen(10_000)),
        &s,
        paid,
        Shanghai,
    );
    assert_eq!(t.cause, Cause::Payment);
    assert_eq!(t.actions, vec![Action::SendCommand(RelayCommand::Close)]);
    assert!(matches!(t.state.status, Status::Restoring { .. }));
    let t = step(
        &t.state,
        &Event::RelayObserved(Relay::Closed),
        &s,
        paid + TimeDelta::seconds(20),
        Shanghai,
    );
    assert_eq!(t.state.status, Status::Normal);
    assert_eq!(t.cause, Cause::RelayClosedConfirmed);
    assert_eq!(
        t.actions,
        vec![
            Action::Notify(NotifyKind::Restored),
            Action::SendCommand(RelayCommand::AlarmOff)
        ]
    );
}

#[test]
fn overdraft_threshold_and_protection() {
    let mut s = settings();
    s.trip_windows = TripWindows::always();
    s.trip_threshold = Money::from_fen(-5000);
    let now = local(2025, 10, 9, 10);
    let t = step(
        &state(Status::Alarmed, 100),
        &Event::BalanceChanged(Money::from_fen(-4000)),
        &s,
        now,
        Shanghai,
    );
    assert_eq!(
        t.state.status,
        Status::Alarmed,
        "still inside the overdraft allowance"
    );

    s.protected = true;
    let t = step(
        &t.state,
        &Event::BalanceChanged(Money::from_fen(-9000)),
        &s,
        now,
        Shanghai,
    );
    assert_eq!(t.state.status, Status::Alarmed);
    let refused = step(&t.state, &Event::ForceTrip, &s, now, Shanghai);
    assert_eq!(refused.cause, Cause::ForceTripRefusedProtected);
    assert!(refused.actions.is_empty());

    // Unprotecting an exhausted account inside a window trips it.
    s.protected = false;
    let t = step(&t.state, &Event::Unprotect, &s, now, Shanghai);
    assert_eq!(t.state.status, Status::Tripped);
    assert_eq!(t.cause, Cause::OperatorUnprotect);
    // Protecting a tripped account brings the power back.
    let t = step(&t.state, &Event::Protect, &s, now, Shanghai);
    assert!(matches!(t.state.status, Status::Restoring { .. }));
    assert_eq!(t.actions, vec![Action::SendCommand(RelayCommand::Close)]);
}

#[test]
fn restore_sla_opens_one_work_order() {
    let s = settings();
    let since = local(2025, 10, 9, 10);
    let restoring = state(
        Status::Restoring {
            since,
            escalated: false,
        },
        5000,
    );
    let early = step(
        &restoring,
        &Event::Tick,
        &s,
        since + TimeDelta::minutes(4),
        Shanghai,
    );
    assert_eq!(early.cause, Cause::NoChange);
    let late = step(
        &restoring,
        &Event::Tick,
        &s,
        since + TimeDelta::minutes(6),
        Shanghai,
    );
    assert_eq!(
        late.actions,
        vec![Action::OpenWorkOrder(WorkOrderKind::RestoreOverdue)]
    );
    let again = step(
        &late.state,
        &Event::Tick,
        &s,
        since + TimeDelta::minutes(7),
        Shanghai,
    );
    assert!(again.actions.is_empty());
}

#[test]
fn force_close_holds_until_expiry_then_control_resumes() {
    let mut s = settings();
    s.trip_windows = TripWindows::always();
    let now = local(2025, 10, 9, 10);
    let until = now + TimeDelta::hours(2);
    let t = step(
        &state(Status::Tripped, -100),
        &Event::ForceClose { until },
        &s,
        now,
        Shanghai,
    );
    assert_eq!(t.state.status, Status::ForceClosed { until });
    assert_eq!(t.actions, vec![Action::SendCommand(RelayCommand::Close)]);
    let held = step(
        &t.state,
        &Event::BalanceChanged(Money::from_fen(-500)),
        &s,
        now,
        Shanghai,
    );
    assert_eq!(held.state.status, Status::ForceClosed { until });
    let expired = step(&held.state, &Event::Tick, &s, until, Shanghai);
    assert_eq!(expired.state.status, Status::Tripped);
    assert_eq!(expired.cause, Cause::ForceCloseExpired);

    let json = serde_json::to_string(&held.state).unwrap();
    assert!(json.contains("\"status\":\"force_closed\""), "{json}");
    assert_eq!(
        serde_json::from_str::<ControlState>(&json).unwrap(),
        held.state
    );
    let settings_json = serde_json::to_string(&s).unwrap();
    assert_eq!(
        serde_json::from_str::<ControlSettings>(&settings_json).unwrap(),
        s
    );
}
