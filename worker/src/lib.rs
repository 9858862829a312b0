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

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use sea_orm::DatabaseConnection;
use store::live::LiveCache;
use store::notifier::Notifier;
use store::{MeterId, OrgId};
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
    dirty: Mutex<BTreeSet<(OrgId, MeterId)>>,
    /// Wakes the rater when readings arrive.
    rate_wakeup: Notify,
    gateways: context::GatewayCache,
    metrics: Metrics,
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
                dirty: Mutex::new(BTreeSet::new()),
                rate_wakeup: Notify::new(),
                gateways: context::GatewayCache::default(),
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

    fn mark_dirty(&self, meters: impl IntoIterator<Item = (OrgId, MeterId)>) {
        self.inner
            .dirty
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(meters);
        self.inner.rate_wakeup.notify_one();
    }

    fn take_dirty(&self, limit: usize) -> Vec<(OrgId, MeterId)> {
        let mut dirty = self
            .inner
            .dirty
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let taken: Vec<_> = dirty.iter().take(limit).copied().collect();
        for key in &taken {
            dirty.remove(key);
        }
        taken
    }

    /// Waits until readings were ingested (the rater's wake-up).
    pub async fn readings_arrived(&self) {
        self.inner.rate_wakeup.notified().await;
    }
}
