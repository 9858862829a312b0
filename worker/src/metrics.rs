//! Counters of what the worker did and refused, for logs, tests and the benchmark.

use std::sync::atomic::{AtomicU64, Ordering};

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
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
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
        }
    }
}
