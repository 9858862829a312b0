//! Charge control (费控): alarm, trip and restore decisions from an account's balance.
//!
//! A pure state machine, `step(state, event, settings, now, tz) -> Transition`, following the
//! diagram of ARCHITECTURE.md:
//! `normal → alarmed → trip_pending → tripped → restoring → normal`, plus operator states
//! `force_tripped` and `force_closed { until }`. Rules it keeps:
//! - no trip is ever emitted while the account is protected (保电);
//! - an automatic trip needs the balance at or below the trip threshold *and* an open trip
//!   window; outside the window the account waits in `trip_pending`;
//! - an operator's force trip ignores balance and windows (a deliberate, audited act, e.g. a
//!   safety cut) but never overrides protection; a forced state is left only by an operator
//!   (release, force close) or, for a forced close, by its expiry;
//! - every transition carries its cause, and notifications go out on transitions only.

mod holiday;
mod step;
mod trip_window;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Money;
pub use holiday::{DayKind, HolidayCalendar};
pub use step::step;
pub use trip_window::TripWindows;

/// Where an account stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Normal,
    Alarmed,
    TripPending,
    Tripped,
    /// Close sent, waiting for the relay to be seen closed; `escalated` once a work order is
    /// open for a missed restore SLA.
    Restoring {
        since: DateTime<Utc>,
        escalated: bool,
    },
    /// Tripped by an operator; stays tripped whatever the balance until released.
    ForceTripped,
    /// Kept closed by an operator until `until`, whatever the balance.
    ForceClosed {
        until: DateTime<Utc>,
    },
}

impl Status {
    /// The snake_case name (for records and metrics).
    pub fn name(self) -> &'static str {
        match self {
            Status::Normal => "normal",
            Status::Alarmed => "alarmed",
            Status::TripPending => "trip_pending",
            Status::Tripped => "tripped",
            Status::Restoring { .. } => "restoring",
            Status::ForceTripped => "force_tripped",
            Status::ForceClosed { .. } => "force_closed",
        }
    }
}

/// The machine's state: the status and the last balance it was told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlState {
    #[serde(flatten)]
    pub status: Status,
    pub balance: Money,
}

impl ControlState {
    /// A new account: normal, with its opening balance (send it a `BalanceChanged` to settle).
    pub fn new(balance: Money) -> Self {
        ControlState {
            status: Status::Normal,
            balance,
        }
    }
}

/// A relay state observed in a reading or a command ack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relay {
    Open,
    Closed,
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", content = "value", rename_all = "snake_case")]
pub enum Event {
    /// The balance is now this (a charge, an adjustment, a reversal).
    BalanceChanged(Money),
    /// A payment was credited; the balance is now this.
    PaymentReceived(Money),
    RelayObserved(Relay),
    /// The clock moved (trip windows open, SLAs and forced closes expire).
    Tick,
    ForceTrip,
    ForceClose {
        until: DateTime<Utc>,
    },
    /// An operator ends a forced state; automatic control resumes.
    Release,
    /// The operator set the account's protected flag (the caller persists it).
    Protect,
    /// The operator cleared the protected flag (the caller persists it).
    Unprotect,
}

/// A command for the account's meter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayCommand {
    Trip,
    Close,
    AlarmOn,
    AlarmOff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    LowBalance,
    TripPending,
    Tripped,
    Restored,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkOrderKind {
    RestoreOverdue,
}

/// What the caller must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", content = "kind", rename_all = "snake_case")]
pub enum Action {
    SendCommand(RelayCommand),
    Notify(NotifyKind),
    OpenWorkOrder(WorkOrderKind),
}

/// Why the state is what it is after a step (recorded with every transition).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Nothing changed and nothing is to be done.
    NoChange,
    BalanceLow,
    BalanceRecovered,
    BalanceExhausted,
    TripWindowOpened,
    Payment,
    RelayClosedConfirmed,
    RelayOpenUnexpected,
    RelayOpenObserved,
    RestoreOverdue,
    OperatorForceTrip,
    ForceTripRefusedProtected,
    OperatorForceClose,
    ForceCloseExpired,
    OperatorRelease,
    OperatorProtect,
    OperatorUnprotect,
}

/// The result of one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub state: ControlState,
    pub actions: Vec<Action>,
    pub cause: Cause,
}

/// An account's charge-control settings, assembled by the caller (account, then site, then
/// organization defaults, plus the platform's holiday calendar).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlSettings {
    pub alarm_threshold: Money,
    /// May be negative: an overdraft allowance (透支).
    pub trip_threshold: Money,
    pub protected: bool,
    pub trip_windows: TripWindows,
    #[serde(default)]
    pub holidays: HolidayCalendar,
    /// How long a restore may take before a work order is opened.
    #[serde(with = "seconds")]
    pub restore_sla: TimeDelta,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("the alarm threshold must not be below the trip threshold")]
    AlarmBelowTrip,
    #[error("the restore SLA must be positive")]
    NonPositiveSla,
}

impl ControlSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.alarm_threshold < self.trip_threshold {
            return Err(SettingsError::AlarmBelowTrip);
        }
        if self.restore_sla <= TimeDelta::zero() {
            return Err(SettingsError::NonPositiveSla);
        }
        Ok(())
    }
}

/// `TimeDelta` as whole seconds, since chrono has no serde form for it.
mod seconds {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &TimeDelta, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(value.num_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TimeDelta, D::Error> {
        let secs = i64::deserialize(deserializer)?;
        TimeDelta::try_seconds(secs).ok_or_else(|| serde::de::Error::custom("duration too large"))
    }
}
