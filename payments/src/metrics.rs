//! Counters of the payment paths, rendered in the Prometheus text format for `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Notifications refused by verification (bad signature, stale, probe, unknown serial, ...).
pub static UNVERIFIED_NOTIFICATIONS: AtomicU64 = AtomicU64::new(0);
/// Payments credited (first time).
pub static CREDITED: AtomicU64 = AtomicU64::new(0);
/// Duplicate reports of payments already credited.
pub static DUPLICATES: AtomicU64 = AtomicU64::new(0);
/// Verified reports not credited (work orders).
pub static REJECTED: AtomicU64 = AtomicU64::new(0);

pub fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The counters as Prometheus text.
pub fn render() -> String {
    let mut out = String::new();
    for (name, help, c) in [
        (
            "wattpay_payment_notifications_unverified_total",
            "Payment notifications refused by verification",
            &UNVERIFIED_NOTIFICATIONS,
        ),
        (
            "wattpay_payments_credited_total",
            "Payments credited",
            &CREDITED,
        ),
        (
            "wattpay_payment_duplicates_total",
            "Duplicate payment reports",
            &DUPLICATES,
        ),
        (
            "wattpay_payments_rejected_total",
            "Verified payment reports not credited",
            &REJECTED,
        ),
    ] {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
            c.load(Ordering::Relaxed)
        );
    }
    out
}
