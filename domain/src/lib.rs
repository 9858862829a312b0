//! Pure Wattpay rules: money and energy, tariffs, rating readings into charges, and the
//! charge-control state machine. No I/O, no clock: callers pass `now` and the site's time zone,
//! so every rule is a function tests can call directly.

pub mod charge_control;
pub mod local_time;
pub mod money;
pub mod rating;
pub mod role;
pub mod tariff;

pub use charge_control::{
    step, Action, Cause, ControlSettings, ControlState, DayKind, Event, HolidayCalendar,
    NotifyKind, Relay, RelayCommand, SettingsError, Status, Transition, TripWindows, WorkOrderKind,
};
pub use local_time::{LocalRange, LocalTime};
pub use money::{Energy, EnergyError, Money, MoneyError};
pub use rating::{
    rate, AnomalyKind, ChargeLine, CycleUsage, LineKind, MeterReading, Outcome, Rated,
    RatingContext, RatingError, RatingState,
};
pub use role::Role;
pub use tariff::{
    CycleKey, Pricing, ServiceCharge, TariffError, TariffVersion, TariffVersions, Tier, TierCycle,
    TouPeriod, TouRates,
};
