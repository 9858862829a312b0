//! Counters of what the worker did and refused, for logs, tests and the benchmark, and the
//! time spent in each phase of ingestion and rating (summed over tasks, in nanoseconds), so
//! the benchmark can say where the time goes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug, Default)]
pub struct Metrics {
    pub batches: AtomicU64,
    pub readings_stored: AtomicU64,
    pub readings_duplicate: AtomicU64,
    pub readings_rated: AtomicU64,
    pub unknown_gateway: AtomicU64,
    pub unknown_meter: AtomicU64,
    pub malformed: AtomicU64,
    pub charges_posted: AtomicU64,
    pub anomalies: AtomicU64,
    pub commands_sent: AtomicU64,
    pub acks: AtomicU64,
    pub live_errors: AtomicU64,
    /// Ingestion flushes (each one multi-row insert of several MQTT batches).
    pub flushes: AtomicU64,
    /// Rating transactions.
    pub rating_txns: AtomicU64,
    pub phases: Phases,
}

/// Time per phase, nanoseconds summed over every flush or pass.
#[derive(Debug, Default)]
pub struct Phases {
    /// JSON decoding and validation of reading batches.
    pub decode: AtomicU64,
    /// The multi-row INSERT of readings.
    pub insert_readings: AtomicU64,
    /// Locking rating states and fetching unrated readings.
    pub lock_fetch: AtomicU64,
    /// Meter contexts (cache, or set queries on a miss) and the account row locks.
    pub context: AtomicU64,
    /// The domain rating rules, in Rust.
    pub rate: AtomicU64,
    /// Ledger entries and balances.
    pub post_ledger: AtomicU64,
    /// Rating states, usage periods and anomaly work orders.
    pub save_state: AtomicU64,
    pub commit: AtomicU64,
    /// Charge control of accounts that needed it.
    pub control: AtomicU64,
    /// Building and writing live snapshots.
    pub live_cache: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    pub batches: u64,
    pub readings_stored: u64,
    pub readings_duplicate: u64,
    pub readings_rated: u64,
    pub unknown_gateway: u64,
    pub unknown_meter: u64,
    pub malformed: u64,
    pub charges_posted: u64,
    pub anomalies: u64,
    pub commands_sent: u64,
    pub acks: u64,
    pub live_errors: u64,
    pub flushes: u64,
    pub rating_txns: u64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds the time since `since` to a phase counter and answers now (the next phase's start).
    pub fn time(counter: &AtomicU64, since: Instant) -> Instant {
        let now = Instant::now();
        let ns = u64::try_from(now.duration_since(since).as_nanos()).unwrap_or(u64::MAX);
        counter.fetch_add(ns, Ordering::Relaxed);
        now
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            batches: get(&self.batches),
            readings_stored: get(&self.readings_stored),
            readings_duplicate: get(&self.readings_duplicate),
            readings_rated: get(&self.readings_rated),
            unknown_gateway: get(&self.unknown_gateway),
            unknown_meter: get(&self.unknown_meter),
            malformed: get(&self.malformed),
            charges_posted: get(&self.charges_posted),
            anomalies: get(&self.anomalies),
            commands_sent: get(&self.commands_sent),
            acks: get(&self.acks),
            live_errors: get(&self.live_errors),
            flushes: get(&self.flushes),
            rating_txns: get(&self.rating_txns),
        }
    }

    /// Seconds spent per phase, named, in pipeline order.
    pub fn phase_seconds(&self) -> Vec<(&'static str, f64)> {
        let p = &self.phases;
        #[allow(clippy::cast_precision_loss)]
        let s = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / 1e9;
        vec![
            ("decode", s(&p.decode)),
            ("insert readings", s(&p.insert_readings)),
            ("lock states + fetch readings", s(&p.lock_fetch)),
            ("contexts + lock accounts", s(&p.context)),
            ("rate (domain rules)", s(&p.rate)),
            ("post ledger + balances", s(&p.post_ledger)),
            ("save states + usage", s(&p.save_state)),
            ("commit", s(&p.commit)),
            ("charge control", s(&p.control)),
            ("live cache", s(&p.live_cache)),
        ]
    }
}
