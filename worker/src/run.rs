//! The worker process: connects to the database, the live cache and the broker (starting the
//! embedded one when no URL is configured), then drives the step functions until `shutdown`
//! resolves: the uplink ingester, the raters (woken by ingestion), the outbox poller, the tick,
//! and (on an external MQTT 5 broker) the liveness lease that lets peers adopt a stopped
//! worker's session ([`session`]).

use std::future::Future;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::task::JoinSet;

use crate::{mqtt, notify, session, EmbeddedBroker, Settings, Worker};

/// A scheduled job from another crate (payment order polling from `payments`, reports, ...),
/// given the database and `now`. The worker runs it every interval under a lease, so with
/// several workers one runs it per interval.
pub type Job = Arc<
    dyn Fn(sea_orm::DatabaseConnection, DateTime<Utc>) -> BoxFuture<'static, anyhow::Result<()>>
        + Send
        + Sync,
>;

/// A job and how often it runs.
#[derive(Clone)]
pub struct ScheduledJob {
    /// Unique: the lease's name.
    pub name: String,
    pub every: Duration,
    pub job: Job,
}

/// A running worker's handles, for the CLI, the demo and tests.
pub struct Running {
    pub worker: Worker,
    /// The embedded broker, when one was started.
    pub broker: Option<EmbeddedBroker>,
    tasks: JoinSet<()>,
}

impl Running {
    /// Stops every task of the worker.
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }
}

/// Connects everything and starts the worker's tasks.
pub async fn start(settings: Settings) -> anyhow::Result<Running> {
    let db = store::connect(&settings.database_url())
        .await
        .context("connecting to the database")?;
    let live = store::live::LiveCache::from_settings(
        settings.redis_url.as_deref(),
        &settings.redis_prefix,
    )
    .await
    .context("connecting to the live cache")?;
    start_with(settings, db, live)
}

/// [`start`] with a database and a live cache the caller already has (the demo shares the
/// in-process cache with the API).
pub fn start_with(
    settings: Settings,
    db: sea_orm::DatabaseConnection,
    live: store::live::LiveCache,
) -> anyhow::Result<Running> {
    start_with_jobs(settings, db, live, Vec::new())
}

/// [`start_with`] plus scheduled jobs of other crates.
pub fn start_with_jobs(
    settings: Settings,
    db: sea_orm::DatabaseConnection,
    live: store::live::LiveCache,
    jobs: Vec<ScheduledJob>,
) -> anyhow::Result<Running> {
    let mut settings = settings;
    let broker = if settings.mqtt_url.is_none() {
        let broker = EmbeddedBroker::start(settings.embedded_broker_port)?;
        // The embedded broker's shared subscriptions are on its MQTT 3.1.1 listener.
        settings.mqtt_version = 4;
        Some(broker)
    } else {
        None
    };
    let url = settings
        .mqtt_url
        .clone()
        .or_else(|| broker.as_ref().map(EmbeddedBroker::url))
        .context("no MQTT URL")?;
    let notifier = notify::from_settings(&settings)?;
    // rumqttd 0.20 panics when a member of a shared subscription disconnects ("group must
    // exist"); the embedded broker serves one worker anyway, so it gets the plain filter.
    let filter = if broker.is_some() {
        protocol::topic::UPLINK_FILTER.to_owned()
    } else {
        settings.uplink_filter()
    };
    let conn = mqtt::connect(&settings, &url, &filter)?;
    // Sessions of stopped peers matter only on a shared broker with expiring (MQTT 5) sessions.
    let adopt_peers = broker.is_none() && settings.mqtt_version == 5;
    let worker = Worker::new(db, settings, live, conn.publisher.clone(), notifier);
    let mut tasks = JoinSet::new();
    tasks.spawn(conn.run(worker.clone()));
    if adopt_peers {
        tasks.spawn(session::keep(worker.clone(), url.clone()));
    }
    for _ in 0..RATERS {
        tasks.spawn(rater(worker.clone()));
    }
    tasks.spawn(outbox_poller(worker.clone()));
    tasks.spawn(ticker(worker.clone()));
    for job in jobs {
        tasks.spawn(scheduled(worker.clone(), job));
    }
    tracing::info!(
        worker_id = worker.settings().worker_id,
        mqtt = url,
        "worker started"
    );
    Ok(Running {
        worker,
        broker,
        tasks,
    })
}

/// Runs the worker until `shutdown` resolves.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let running = start(settings).await?;
    shutdown.await;
    tracing::info!("worker stopping");
    running.stop().await;
    Ok(())
}

/// Rating passes run at once: while one rates a backlog, another takes the fresh meters, and
/// the database works on one pass while the worker computes the other. Passes never take the
/// same meter twice (the queue hands each out once; a meter queued again meanwhile waits for
/// the first pass's row locks).
const RATERS: usize = 2;

async fn rater(worker: Worker) {
    loop {
        // Wake on new readings, and at least every second for recovered or re-queued meters.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), worker.readings_arrived())
            .await;
        if let Err(e) = worker.rate_pending(Utc::now()).await {
            tracing::warn!(error = %format!("{e:#}"), "rating pass failed");
        }
    }
}

async fn outbox_poller(worker: Worker) {
    let every = worker.settings().outbox_poll;
    loop {
        match worker.process_outbox_once(Utc::now()).await {
            // A full batch: there may be more at once.
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "outbox pass failed"),
        }
        tokio::time::sleep(every).await;
    }
}

async fn ticker(worker: Worker) {
    let every = worker.settings().tick_interval;
    loop {
        if let Err(e) = worker.tick(Utc::now()).await {
            tracing::warn!(error = %format!("{e:#}"), "tick failed");
        }
        tokio::time::sleep(every).await;
    }
}

async fn scheduled(worker: Worker, job: ScheduledJob) {
    let lease = chrono::Duration::from_std(job.every).unwrap_or(chrono::Duration::minutes(1));
    loop {
        let now = Utc::now();
        let holder = &worker.settings().worker_id;
        match store::job_lease::try_take(worker.db(), &job.name, holder, now, now + lease).await {
            Ok(true) => {
                if let Err(e) = (job.job)(worker.db().clone(), now).await {
                    tracing::warn!(job = job.name, error = %format!("{e:#}"), "scheduled job failed");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(job = job.name, error = %e, "job lease"),
        }
        tokio::time::sleep(job.every).await;
    }
}
