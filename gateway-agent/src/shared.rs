//! State the agent's tasks share: the disk queue, the command log, the acks to publish and the
//! numbers the status reports.
//!
//! Each piece sits behind its own short-lived lock (never held across an await). Disk writes
//! happen under the lock on the calling task: a few small fsyncs per poll cycle, which a gateway
//! box can afford, in exchange for a simple proof that nothing is lost.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Datelike, Utc};
use protocol::{BusStatus, Command, CommandAck, GatewayId, GatewayStatus, Reading, V1};
use tokio::sync::{mpsc, Notify};

use crate::command_log::{CommandLog, CommandLogError, Decision};
use crate::dtu_server::DtuHub;
use crate::queue::ReadingQueue;

/// Before this year the box's clock is certainly wrong (boxes without an RTC boot in 1970).
const PLAUSIBLE_YEAR: i32 = 2025;

pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data behind these locks stays consistent between statements; a panicking holder
    // cannot leave it half-changed in a way that matters more than stopping the agent would.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug)]
pub struct Shared {
    pub gateway: GatewayId,
    pub queue: Mutex<ReadingQueue>,
    /// Woken whenever a batch is queued.
    pub queued: Notify,
    commands: Mutex<CommandLog>,
    acks: mpsc::UnboundedSender<CommandAck>,
    buses: Mutex<BTreeMap<String, BusStatus>>,
    pub rejected_commands: AtomicU64,
    /// Readings that could not even be queued (disk failure); reported with the dropped ones.
    lost_readings: AtomicU64,
    pub config_version: Mutex<Option<u64>>,
    pub config_error: Mutex<Option<String>>,
    clock_behind: AtomicBool,
    /// Listeners of the `dtu-server` buses, kept across config changes.
    pub dtu: DtuHub,
}

impl Shared {
    pub fn new(
        gateway: GatewayId,
        queue: ReadingQueue,
        commands: CommandLog,
    ) -> (Self, mpsc::UnboundedReceiver<CommandAck>) {
        let (acks, rx) = mpsc::unbounded_channel();
        let shared = Self {
            gateway,
            queue: Mutex::new(queue),
            queued: Notify::new(),
            commands: Mutex::new(commands),
            acks,
            buses: Mutex::new(BTreeMap::new()),
            rejected_commands: AtomicU64::new(0),
            lost_readings: AtomicU64::new(0),
            config_version: Mutex::new(None),
            config_error: Mutex::new(None),
            clock_behind: AtomicBool::new(false),
            dtu: DtuHub::default(),
        };
        (shared, rx)
    }

    /// Puts readings on the disk queue and wakes the publisher.
    pub fn enqueue(&self, readings: Vec<Reading>) {
        if readings.is_empty() {
            return;
        }
        let n = readings.len() as u64;
        let result = lock(&self.queue).push(readings, Utc::now());
        match result {
            Ok(_) => self.queued.notify_one(),
            Err(e) => {
                self.lost_readings.fetch_add(n, Ordering::Relaxed);
                tracing::error!(error = %e, readings = n, "could not queue readings");
            }
        }
    }

    pub fn begin_command(
        &self,
        cmd: &Command,
        now: DateTime<Utc>,
    ) -> Result<Decision, CommandLogError> {
        lock(&self.commands).begin(cmd, now)
    }

    pub fn finish_command(&self, cmd: &Command, ack: &CommandAck) -> Result<(), CommandLogError> {
        lock(&self.commands).finish(cmd, ack)
    }

    pub fn send_ack(&self, ack: CommandAck) {
        tracing::info!(command = %ack.id, meter = %ack.meter, seq = ack.seq, status = ?ack.status, "command answered");
        // The receiver lives as long as the agent; after it is gone nobody could publish anyway.
        let _ = self.acks.send(ack);
    }

    pub fn set_bus_status(&self, status: BusStatus) {
        lock(&self.buses).insert(status.name.clone(), status);
    }

    /// Forgets buses that are no longer configured.
    pub fn retain_buses(&self, names: &[String]) {
        lock(&self.buses).retain(|name, _| names.contains(name));
    }

    /// Notes the cloud's clock as seen in a command's `issued_at`.
    pub fn observe_cloud_time(&self, issued_at: DateTime<Utc>, now: DateTime<Utc>) {
        let behind = issued_at - now > chrono::Duration::minutes(1);
        self.clock_behind.store(behind, Ordering::Relaxed);
    }

    pub fn clock_ok(&self, now: DateTime<Utc>) -> bool {
        now.year() >= PLAUSIBLE_YEAR && !self.clock_behind.load(Ordering::Relaxed)
    }

    pub fn status(&self, online: bool, now: DateTime<Utc>) -> GatewayStatus {
        let (queue_len, dropped) = {
            let q = lock(&self.queue);
            (q.len(), q.dropped())
        };
        GatewayStatus {
            v: V1,
            gateway: self.gateway.clone(),
            online,
            agent_version: AGENT_VERSION.to_owned(),
            buses: lock(&self.buses).values().cloned().collect(),
            ts: now,
            config_version: *lock(&self.config_version),
            config_error: lock(&self.config_error).clone(),
            queue_len: Some(queue_len),
            dropped_readings: Some(dropped + self.lost_readings.load(Ordering::Relaxed)),
            rejected_commands: Some(self.rejected_commands.load(Ordering::Relaxed)),
            clock_ok: Some(self.clock_ok(now)),
        }
    }
}
