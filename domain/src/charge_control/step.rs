//! The transition function of charge control. See the parent module for the rules it keeps.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{
    Action, Cause, ControlSettings, ControlState, Event, NotifyKind, Relay, RelayCommand, Status,
    Transition, WorkOrderKind,
};
use crate::money::Money;

/// What the step knows besides the state: the balance and protection after the event, and
/// whether a trip may be executed now.
struct Facts<'a> {
    balance: Money,
    protected: bool,
    window_open: bool,
    settings: &'a ControlSettings,
    now: DateTime<Utc>,
}

/// Applies `event` to `state`. Pure: the caller persists the new state, executes the actions
/// and records the cause.
pub fn step(
    state: &ControlState,
    event: &Event,
    settings: &ControlSettings,
    now: DateTime<Utc>,
    tz: Tz,
) -> Transition {
    let facts = Facts {
        balance: match event {
            Event::BalanceChanged(balance) | Event::PaymentReceived(balance) => *balance,
            _ => state.balance,
        },
        protected: match event {
            Event::Protect => true,
            Event::Unprotect => false,
            _ => settings.protected,
        },
        window_open: settings.trip_windows.is_open(now, tz, &settings.holidays),
        settings,
        now,
    };
    let (status, actions, cause) = decide(state.status, event, &facts);
    let cause = attribute(state.status, status, &actions, event, cause);
    debug_assert!(
        !actions.contains(&Action::SendCommand(RelayCommand::Trip)) || !facts.protected,
        "a trip while protected"
    );
    Transition {
        state: ControlState {
            status,
            balance: facts.balance,
        },
        actions,
        cause,
    }
}

type Decision = (Status, Vec<Action>, Cause);

fn decide(from: Status, event: &Event, facts: &Facts<'_>) -> Decision {
    match (from, event) {
        (_, Event::ForceTrip) => force_trip(from, facts),
        (_, Event::ForceClose { until }) => {
            let relay_may_be_open = matches!(
                from,
                Status::Tripped | Status::ForceTripped | Status::Restoring { .. }
            );
            let actions = if relay_may_be_open {
                vec![Action::SendCommand(RelayCommand::Close)]
            } else {
                Vec::new()
            };
            let status = Status::ForceClosed { until: *until };
            (status, actions, Cause::OperatorForceClose)
        }
        (Status::ForceTripped | Status::ForceClosed { .. }, Event::Release) => {
            release(from, facts, Cause::OperatorRelease)
        }
        (Status::ForceClosed { until }, Event::Tick) if facts.now >= until => {
            release(from, facts, Cause::ForceCloseExpired)
        }
        (Status::ForceTripped, Event::Protect) => restore(facts.now, Cause::OperatorProtect),
        (Status::ForceTripped | Status::ForceClosed { .. }, _) => {
            (from, Vec::new(), Cause::NoChange)
        }
        (Status::Normal | Status::Alarmed, Event::RelayObserved(Relay::Open)) => {
            restore(facts.now, Cause::RelayOpenUnexpected)
        }
        (Status::TripPending, Event::RelayObserved(Relay::Open)) => (
            Status::Tripped,
            vec![Action::Notify(NotifyKind::Tripped)],
            Cause::RelayOpenObserved,
        ),
        (Status::Normal | Status::Alarmed | Status::TripPending, _) => settle(from, facts),
        (Status::Tripped, _) => {
            if facts.protected || facts.balance > facts.settings.trip_threshold {
                restore(facts.now, Cause::BalanceRecovered)
            } else {
                (from, Vec::new(), Cause::NoChange)
            }
        }
        (Status::Restoring { .. }, Event::RelayObserved(Relay::Closed)) => {
            // Power is back: settle as if the alarm were on (it was, before the trip).
            let (status, mut actions, _) = settle(Status::TripPending, facts);
            actions.insert(0, Action::Notify(NotifyKind::Restored));
            (status, actions, Cause::RelayClosedConfirmed)
        }
        (Status::Restoring { since, escalated }, Event::Tick) => {
            if !escalated && facts.now - since > facts.settings.restore_sla {
                let status = Status::Restoring {
                    since,
                    escalated: true,
                };
                let actions = vec![Action::OpenWorkOrder(WorkOrderKind::RestoreOverdue)];
                (status, actions, Cause::RestoreOverdue)
            } else {
                (from, Vec::new(), Cause::NoChange)
            }
        }
        (Status::Restoring { .. }, _) => (from, Vec::new(), Cause::NoChange),
    }
}

fn force_trip(from: Status, facts: &Facts<'_>) -> Decision {
    if facts.protected {
        return (from, Vec::new(), Cause::ForceTripRefusedProtected);
    }
    let actions = match from {
        Status::Tripped | Status::ForceTripped => Vec::new(),
        _ => vec![
            Action::SendCommand(RelayCommand::Trip),
            Action::Notify(NotifyKind::Tripped),
        ],
    };
    (Status::ForceTripped, actions, Cause::OperatorForceTrip)
}

/// Leaving a forced state: automatic control resumes from the balance.
fn release(from: Status, facts: &Facts<'_>, cause: Cause) -> Decision {
    let (status, actions, _) = match from {
        Status::ForceTripped
            if facts.protected || facts.balance > facts.settings.trip_threshold =>
        {
            restore(facts.now, cause)
        }
        Status::ForceTripped => (Status::Tripped, Vec::new(), cause),
        // The relay is closed; the alarm may or may not be on, so settle as if it were.
        _ => settle(Status::TripPending, facts),
    };
    (status, actions, cause)
}

fn restore(now: DateTime<Utc>, cause: Cause) -> Decision {
    let status = Status::Restoring {
        since: now,
        escalated: false,
    };
    (
        status,
        vec![Action::SendCommand(RelayCommand::Close)],
        cause,
    )
}

/// Where a powered account belongs given its balance, and the alarm and trip actions to get
/// there from `from` (a powered status, or `TripPending` meaning "alarm already on").
fn settle(from: Status, facts: &Facts<'_>) -> Decision {
    let s = facts.settings;
    let exhausted = facts.balance <= s.trip_threshold && !facts.protected;
    let low = facts.balance <= s.alarm_threshold || facts.balance <= s.trip_threshold;
    let alarm_was_on = from != Status::Normal;
    let mut actions = Vec::new();
    let target = if exhausted {
        Status::TripPending
    } else if low {
        Status::Alarmed
    } else {
        Status::Normal
    };
    if target != Status::Normal && !alarm_was_on {
        actions.push(Action::SendCommand(RelayCommand::AlarmOn));
        actions.push(Action::Notify(NotifyKind::LowBalance));
    }
    if target == Status::Normal && alarm_was_on {
        actions.push(Action::SendCommand(RelayCommand::AlarmOff));
    }
    let cause = match target {
        Status::Normal => Cause::BalanceRecovered,
        Status::Alarmed => Cause::BalanceLow,
        _ => Cause::BalanceExhausted,
    };
    if target == Status::TripPending {
        if facts.window_open {
            actions.push(Action::SendCommand(RelayCommand::Trip));
            actions.push(Action::Notify(NotifyKind::Tripped));
            let cause = if from == Status::TripPending {
                Cause::TripWindowOpened
            } else {
                Cause::BalanceExhausted
            };
            return (Status::Tripped, actions, cause);
        }
        if from != Status::TripPending {
            actions.push(Action::Notify(NotifyKind::TripPending));
        }
    }
    (target, actions, cause)
}

/// The recorded cause: operator actions and payments are named as such whenever they changed
/// something; a step that changed nothing and does nothing says so.
fn attribute(from: Status, to: Status, actions: &[Action], event: &Event, decided: Cause) -> Cause {
    let changed = from != to || !actions.is_empty();
    match event {
        Event::Protect => Cause::OperatorProtect,
        Event::Unprotect => Cause::OperatorUnprotect,
        Event::ForceTrip | Event::ForceClose { .. } | Event::Release => decided,
        Event::PaymentReceived(_) if changed => Cause::Payment,
        _ if changed => decided,
        _ => Cause::NoChange,
    }
}
