//! The live balance cache: one [`LiveSnapshot`] per account (balance, charge-control state,
//! relay, last reading time, today's kWh and cost), written by the worker after every balance
//! change and read by the API's tenant pages, plus an announcement of every change so open
//! pages update live.
//!
//! Rules kept here:
//! - it is a cache: the database stays the truth, and readers fall back to it when
//!   [`LiveCache::get`] answers `None` or an error;
//! - two backends behind one type: Redis (`SET` of a JSON value under `{prefix}live:{account}`
//!   and `PUBLISH` on `{prefix}live`) when a URL is configured, else an in-process map shared
//!   by cloning the [`LiveCache`] (api and worker in one process);
//! - announcements reach subscribers through a tokio broadcast channel on both backends; on
//!   Redis a background task forwards the pub/sub channel into it, reconnecting when Redis
//!   comes back, so subscribers on other processes see the worker's changes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{Energy, Money};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::{AccountId, OrgId};

/// How many announcements a slow subscriber may lag behind before it misses some (it then
/// reads the cache again).
const ANNOUNCE_CAPACITY: usize = 1024;
/// How long a Redis command may take before the cache counts as down.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// Redis keys expire so that a forgotten account does not stay forever; the worker rewrites
/// a snapshot at least daily (the daily freeze).
const SNAPSHOT_TTL_SECS: u64 = 8 * 24 * 3600;

/// What a tenant's page shows live about an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSnapshot {
    pub account_id: AccountId,
    pub organization_id: OrgId,
    pub balance: Money,
    /// The charge-control status name (`normal`, `alarmed`, `trip_pending`, `tripped`, ...).
    pub cc_state: String,
    /// The relay of the account's meter as last seen: `open`, `closed`, or unknown.
    pub relay: Option<String>,
    pub last_reading_at: Option<DateTime<Utc>>,
    /// Consumption and its cost so far today (the site's local day).
    pub today_kwh: Energy,
    pub today_cost: Money,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer in time")]
    Timeout,
    #[error("snapshot encoding: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The live cache; clones share one cache and one announcement channel.
#[derive(Clone)]
pub struct LiveCache {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    announce: broadcast::Sender<LiveSnapshot>,
    /// Set when a write failed: the cache may be behind the database until rebuilt.
    stale: AtomicBool,
}

enum Backend {
    Memory(RwLock<HashMap<AccountId, LiveSnapshot>>),
    Redis {
        client: redis::Client,
        /// Dropped on any error and reconnected on the next use, so a Redis that comes back
        /// is used again at once.
        conn: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
        prefix: String,
        /// Stops the pub/sub forwarder when the last clone goes away.
        forwarder: tokio::task::JoinHandle<()>,
    },
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Backend::Redis { forwarder, .. } = &self.backend {
            forwarder.abort();
        }
    }
}

impl std::fmt::Debug for LiveCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.inner.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis { .. } => "redis",
        };
        f.debug_struct("LiveCache")
            .field("backend", &backend)
            .finish_non_exhaustive()
    }
}

impl LiveCache {
    /// The in-process cache (embedded default).
    pub fn in_process() -> Self {
        let (announce, _) = broadcast::channel(ANNOUNCE_CAPACITY);
        LiveCache {
            inner: Arc::new(Inner {
                backend: Backend::Memory(RwLock::new(HashMap::new())),
                announce,
                stale: AtomicBool::new(false),
            }),
        }
    }

    /// A Redis cache at `url`, keys and channel under `prefix` (e.g. `wattpay:`; tests use a
    /// unique one). Connects once to check the URL; later outages are survived.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, LiveError> {
        let client = redis::Client::open(url)?;
        let conn = tokio::time::timeout(REDIS_TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| LiveError::Timeout)??;
        let (announce, _) = broadcast::channel(ANNOUNCE_CAPACITY);
        let channel = format!("{prefix}live");
        let forwarder = tokio::spawn(forward(client.clone(), channel, announce.clone()));
        Ok(LiveCache {
            inner: Arc::new(Inner {
                backend: Backend::Redis {
                    client,
                    conn: tokio::sync::Mutex::new(Some(conn)),
                    prefix: prefix.to_owned(),
                    forwarder,
                },
                announce,
                stale: AtomicBool::new(false),
            }),
        })
    }

    /// Redis when `redis_url` is set, else the in-process cache.
    pub async fn from_settings(redis_url: Option<&str>, prefix: &str) -> Result<Self, LiveError> {
        match redis_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Self::redis(url, prefix).await,
            None => Ok(Self::in_process()),
        }
    }

    pub fn is_redis(&self) -> bool {
        matches!(self.inner.backend, Backend::Redis { .. })
    }

    /// The snapshot of an account, if cached. Errors mean "ask the database".
    pub async fn get(&self, account: AccountId) -> Result<Option<LiveSnapshot>, LiveError> {
        match &self.inner.backend {
            Backend::Memory(map) => Ok(map
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&account)
                .cloned()),
            Backend::Redis { prefix, .. } => {
                let mut conn = self.redis_conn().await?;
                let key = format!("{prefix}live:{account}");
                let mut cmd = redis::cmd("GET");
                cmd.arg(&key);
                let fut = cmd.query_async::<Option<String>>(&mut conn);
                let raw = self
                    .settle(tokio::time::timeout(REDIS_TIMEOUT, fut).await)
                    .await?;
                Ok(raw.map(|s| serde_json::from_str(&s)).transpose()?)
            }
        }
    }

    /// Stores a snapshot and announces it. On error the cache is marked stale (the caller keeps
    /// going: the database has the truth) until [`LiveCache::clear_stale`] after a rebuild.
    pub async fn put(&self, snapshot: &LiveSnapshot) -> Result<(), LiveError> {
        let res = self.write(snapshot).await;
        if res.is_err() {
            self.inner.stale.store(true, Ordering::SeqCst);
        }
        res
    }

    async fn write(&self, snapshot: &LiveSnapshot) -> Result<(), LiveError> {
        match &self.inner.backend {
            Backend::Memory(map) => {
                map.write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(snapshot.account_id, snapshot.clone());
                // No subscribers is fine: nobody has a page open.
                let _ = self.inner.announce.send(snapshot.clone());
                Ok(())
            }
            Backend::Redis { prefix, .. } => {
                let mut conn = self.redis_conn().await?;
                let json = serde_json::to_string(snapshot)?;
                let key = format!("{prefix}live:{}", snapshot.account_id);
                let mut pipe = redis::pipe();
                pipe.cmd("SET")
                    .arg(&key)
                    .arg(&json)
                    .arg("EX")
                    .arg(SNAPSHOT_TTL_SECS)
                    .ignore()
                    .cmd("PUBLISH")
                    .arg(format!("{prefix}live"))
                    .arg(&json)
                    .ignore();
                let fut = pipe.query_async::<()>(&mut conn);
                self.settle(tokio::time::timeout(REDIS_TIMEOUT, fut).await)
                    .await
            }
        }
    }

    /// [`LiveCache::put`] for many snapshots: one pipeline of `SET`s and `PUBLISH`es on Redis
    /// (one round trip), one map update on the in-process cache.
    pub async fn put_many(&self, snapshots: &[LiveSnapshot]) -> Result<(), LiveError> {
        if snapshots.is_empty() {
            return Ok(());
        }
        let res = self.write_many(snapshots).await;
        if res.is_err() {
            self.inner.stale.store(true, Ordering::SeqCst);
        }
        res
    }

    async fn write_many(&self, snapshots: &[LiveSnapshot]) -> Result<(), LiveError> {
        match &self.inner.backend {
            Backend::Memory(map) => {
                {
                    let mut map = map
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    for s in snapshots {
                        map.insert(s.account_id, s.clone());
                    }
                }
                for s in snapshots {
                    let _ = self.inner.announce.send(s.clone());
                }
                Ok(())
            }
            Backend::Redis { prefix, .. } => {
                let mut conn = self.redis_conn().await?;
                let channel = format!("{prefix}live");
                let mut pipe = redis::pipe();
                for s in snapshots {
                    let json = serde_json::to_string(s)?;
                    pipe.cmd("SET")
                        .arg(format!("{prefix}live:{}", s.account_id))
                        .arg(&json)
                        .arg("EX")
                        .arg(SNAPSHOT_TTL_SECS)
                        .ignore()
                        .cmd("PUBLISH")
                        .arg(&channel)
                        .arg(&json)
                        .ignore();
                }
                let fut = pipe.query_async::<()>(&mut conn);
                self.settle(tokio::time::timeout(REDIS_TIMEOUT, fut).await)
                    .await
            }
        }
    }

    /// The cached snapshots of many accounts (one `MGET` on Redis); missing ones are left out.
    pub async fn get_many(
        &self,
        accounts: &[AccountId],
    ) -> Result<HashMap<AccountId, LiveSnapshot>, LiveError> {
        if accounts.is_empty() {
            return Ok(HashMap::new());
        }
        match &self.inner.backend {
            Backend::Memory(map) => {
                let map = map
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                Ok(accounts
                    .iter()
                    .filter_map(|a| map.get(a).map(|s| (*a, s.clone())))
                    .collect())
            }
            Backend::Redis { prefix, .. } => {
                let mut conn = self.redis_conn().await?;
                let mut cmd = redis::cmd("MGET");
                for a in accounts {
                    cmd.arg(format!("{prefix}live:{a}"));
                }
                let fut = cmd.query_async::<Vec<Option<String>>>(&mut conn);
                let raw = self
                    .settle(tokio::time::timeout(REDIS_TIMEOUT, fut).await)
                    .await?;
                let mut out = HashMap::new();
                for (a, v) in accounts.iter().zip(raw) {
                    if let Some(v) = v {
                        out.insert(*a, serde_json::from_str(&v)?);
                    }
                }
                Ok(out)
            }
        }
    }

    /// Every change announced from now on (also those written by other processes on Redis).
    pub fn subscribe(&self) -> broadcast::Receiver<LiveSnapshot> {
        self.inner.announce.subscribe()
    }

    /// Whether a write failed since the last rebuild.
    pub fn is_stale(&self) -> bool {
        self.inner.stale.load(Ordering::SeqCst)
    }

    /// Marks the cache stale (a rebuild from the database is needed).
    pub fn mark_stale(&self) {
        self.inner.stale.store(true, Ordering::SeqCst);
    }

    /// Call after rebuilding every snapshot from the database.
    pub fn clear_stale(&self) {
        self.inner.stale.store(false, Ordering::SeqCst);
    }

    /// A round trip to the backend (the worker probes it before rebuilding).
    pub async fn ping(&self) -> Result<(), LiveError> {
        match &self.inner.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Redis { .. } => {
                let mut conn = self.redis_conn().await?;
                let cmd = redis::cmd("PING");
                let fut = cmd.query_async::<String>(&mut conn);
                self.settle(tokio::time::timeout(REDIS_TIMEOUT, fut).await)
                    .await
                    .map(|_| ())
            }
        }
    }

    /// The Redis connection, connecting when there is none.
    async fn redis_conn(&self) -> Result<redis::aio::MultiplexedConnection, LiveError> {
        let Backend::Redis { client, conn, .. } = &self.inner.backend else {
            return Err(LiveError::Timeout);
        };
        let mut guard = conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let fresh = tokio::time::timeout(REDIS_TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| LiveError::Timeout)??;
        *guard = Some(fresh.clone());
        Ok(fresh)
    }

    /// The outcome of a Redis command; any failure drops the connection for a fresh one.
    async fn settle<T>(
        &self,
        res: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, LiveError> {
        let out = match res {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => LiveError::Redis(e),
            Err(_) => LiveError::Timeout,
        };
        if let Backend::Redis { conn, .. } = &self.inner.backend {
            *conn.lock().await = None;
        }
        Err(out)
    }
}

/// Forwards the Redis announcement channel into the local broadcast, reconnecting with a
/// bounded backoff while Redis is away.
async fn forward(
    client: redis::Client,
    channel: String,
    announce: broadcast::Sender<LiveSnapshot>,
) {
    use futures_util::StreamExt;

    let mut backoff = Duration::from_millis(100);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&channel).await.is_ok() {
                    backoff = Duration::from_millis(100);
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        let Ok(payload) = msg.get_payload::<String>() else {
                            continue;
                        };
                        match serde_json::from_str::<LiveSnapshot>(&payload) {
                            Ok(snapshot) => {
                                let _ = announce.send(snapshot);
                            }
                            Err(e) => tracing::warn!(error = %e, "bad live announcement"),
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "live announcements: redis unavailable"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    pub(crate) fn snapshot(balance_fen: i64) -> LiveSnapshot {
        LiveSnapshot {
            account_id: AccountId::new(),
            organization_id: OrgId::new(),
            balance: Money::from_fen(balance_fen),
            cc_state: "normal".into(),
            relay: Some("closed".into()),
            last_reading_at: Some(Utc::now()),
            today_kwh: Energy::from_wh(1_234),
            today_cost: Money::from_fen(66),
            updated_at: Utc::now(),
        }
    }

    async fn check(cache: LiveCache) {
        let mut changes = cache.subscribe();
        let snap = snapshot(4_250);
        assert_eq!(cache.get(snap.account_id).await.unwrap(), None);
        cache.put(&snap).await.unwrap();
        assert_eq!(
            cache.get(snap.account_id).await.unwrap(),
            Some(snap.clone())
        );
        let announced = tokio::time::timeout(Duration::from_secs(5), changes.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(announced, snap);
        // A clone is the same cache.
        let other = cache.clone();
        assert_eq!(other.get(snap.account_id).await.unwrap(), Some(snap));
        assert!(!cache.is_stale());
    }

    #[tokio::test]
    async fn in_process_cache_stores_and_announces() {
        check(LiveCache::in_process()).await;
    }

    #[tokio::test]
    async fn redis_cache_stores_and_announces() {
        let url = match std::env::var("WATTPAY_TEST_REDIS_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true but WATTPAY_TEST_REDIS_URL is unset"
                );
                return;
            }
        };
        let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
        let cache = LiveCache::redis(&url, &prefix).await.unwrap();
        // The forwarder subscribes in the background: wait until it receives before checking.
        let mut changes = cache.subscribe();
        let probe = snapshot(1);
        for attempt in 0.. {
            assert!(attempt < 50, "the announcement forwarder never subscribed");
            cache.put(&probe).await.unwrap();
            if tokio::time::timeout(Duration::from_millis(200), changes.recv())
                .await
                .is_ok()
            {
                break;
            }
        }
        check(cache).await;
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_an_error_not_a_hang() {
        // Port 1 is never a Redis server.
        let res = LiveCache::redis("redis://127.0.0.1:1", "x:").await;
        assert!(res.is_err());
    }
}
