//! The Wattpay worker: turns readings into money and money into power on or off.
//!
//! It ingests readings, acks and statuses from MQTT ([`mqtt`]), stores readings ([`ingest`]),
//! rates them into ledger charges under a per-meter lock ([`rating`]), runs charge control on
//! every balance change and on the clock ([`control`]), sends commands and retries them
//! ([`command`]), consumes the outbox written by the API and payments ([`outbox`]), keeps the
//! live balance cache ([`live`]), sends notifications ([`notify`]) and runs the schedules
//! ([`schedule`]).
//!
//! Every job is a step function on [`Worker`] (`ingest_batch`, `rate_pending`,
//! `process_outbox_once`, `tick`) that tests call directly; [`run`] drives them. Everything a
//! step does is idempotent, so redelivered messages, a second worker or a killed one never
//! charge twice or execute a command twice.

pub mod broker;
pub mod command;
pub mod context;
pub mod control;
pub mod gateway;
pub mod ingest;
pub mod live;
pub mod metrics;
pub mod mqtt;
pub mod notify;
pub mod outbox;
pub mod publisher;
pub mod rating;
pub mod run;
pub mod schedule;
pub mod session;
pub mod settings;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use sea_orm::DatabaseConnection;
use store::live::LiveCache;
use store::notifier::Notifier;
use store::{GatewayId, MeterId, OrgId};
use tokio::sync::Notify;

pub use broker::EmbeddedBroker;
pub use metrics::Metrics;
pub use publisher::{Published, Publisher, RecordingPublisher};
pub use run::run;
pub use settings::Settings;

/// The worker's state shared by its tasks; clones share it.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    settings: Settings,
    live: LiveCache,
    publisher: Arc<dyn Publisher>,
    notifier: Arc<dyn Notifier>,
    /// Meters with readings stored and maybe not rated yet.
    dirty: Mutex<DirtyQueue>,
    /// Wakes the rater when readings arrive.
    rate_wakeup: Notify,
    gateways: context::GatewayCache,
    contexts: context::ContextCache,
    metrics: Metrics,
}

/// Meters waiting to be rated, first in first out, each once, with the number of readings
/// ingestion stored for it since (an estimate: a redelivery or a resweep counts one) and its
/// gateway. A rating pass takes meters from the front up to a budget of readings, at most
/// [`rating::READINGS_PER_METER`] of a meter (a meter with more goes to the back again) and at
/// most half the budget for one gateway while others wait, so a gateway flushing a day of
/// readings shares every pass with the fresh readings of other gateways.
#[derive(Default)]
struct DirtyQueue {
    order: VecDeque<(OrgId, MeterId)>,
    pending: HashMap<(OrgId, MeterId), (u64, Option<GatewayId>)>,
}

impl DirtyQueue {
    fn push(&mut self, key: (OrgId, MeterId), readings: u64, gateway: Option<GatewayId>) {
        if let Some((n, gw)) = self.pending.get_mut(&key) {
            *n += readings;
            if gw.is_none() {
                *gw = gateway;
            }
        } else {
            self.pending.insert(key, (readings, gateway));
            self.order.push_back(key);
        }
    }

    /// Meters from the front while their readings (each counted up to `per_meter`) fit
    /// `budget`, one gateway's up to half of it, at most `max_meters`; at least one when any
    /// waits. Meters passed over for their gateway's share keep their place.
    fn take(&mut self, budget: u64, per_meter: u64, max_meters: usize) -> Vec<(OrgId, MeterId)> {
        let share = budget / 2;
        let mut out = Vec::new();
        let mut used = 0;
        let mut per_gateway: HashMap<GatewayId, u64> = HashMap::new();
        let mut passed_over = Vec::new();
        while out.len() < max_meters {
            let Some(key) = self.order.pop_front() else {
                break;
            };
            let (n, gateway) = self.pending.get(&key).copied().unwrap_or((1, None));
            let n = n.clamp(1, per_meter);
            if !out.is_empty() && used + n > budget {
                self.order.push_front(key);
                break;
            }
            if let Some(gw) = gateway {
                let taken = per_gateway.entry(gw).or_default();
                if *taken > 0 && *taken + n > share {
                    passed_over.push(key);
                    continue;
                }
                *taken += n;
            }
            self.pending.remove(&key);
            used += n;
            out.push(key);
        }
        for key in passed_over.into_iter().rev() {
            self.order.push_front(key);
        }
        out
    }
}

impl Worker {
    pub fn new(
        db: DatabaseConnection,
        settings: Settings,
        live: LiveCache,
        publisher: Arc<dyn Publisher>,
        notifier: Arc<dyn Notifier>,
    ) -> Worker {
        Worker {
            inner: Arc::new(Inner {
                db,
                settings,
                live,
                publisher,
                notifier,
                dirty: Mutex::new(DirtyQueue::default()),
                rate_wakeup: Notify::new(),
                gateways: context::GatewayCache::default(),
                contexts: context::ContextCache::default(),
                metrics: Metrics::default(),
            }),
        }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn live(&self) -> &LiveCache {
        &self.inner.live
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    fn publisher(&self) -> &dyn Publisher {
        self.inner.publisher.as_ref()
    }

    fn notifier(&self) -> &dyn Notifier {
        self.inner.notifier.as_ref()
    }

    /// Queues meters for rating, one entry per stored reading (or one per meter to look at).
    fn mark_dirty(&self, meters: impl IntoIterator<Item = (OrgId, MeterId)>) {
        self.mark_dirty_counted(meters.into_iter().map(|k| (k, 1, None)));
    }

    fn mark_dirty_counted(
        &self,
        meters: impl IntoIterator<Item = ((OrgId, MeterId), u64, Option<GatewayId>)>,
    ) {
        {
            let mut dirty = self
                .inner
                .dirty
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (key, n, gateway) in meters {
                dirty.push(key, n, gateway);
            }
        }
        self.inner.rate_wakeup.notify_one();
    }

    fn take_dirty(&self, budget: u64, per_meter: u64, max_meters: usize) -> Vec<(OrgId, MeterId)> {
        self.inner
            .dirty
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(budget, per_meter, max_meters)
    }

    /// How many meters wait to be rated.
    pub fn rating_backlog(&self) -> usize {
        self.inner
            .dirty
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .order
            .len()
    }

    /// Waits until readings were ingested (the rater's wake-up).
    pub async fn readings_arrived(&self) {
        self.inner.rate_wakeup.notified().await;
    }
}
