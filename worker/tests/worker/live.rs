//! Redis down: the worker keeps rating (the database is the truth), marks the cache stale, and
//! rebuilds it when Redis is back. The test runs its own Redis on a free port, never the
//! shared one.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use domain::Money;
use store::live::LiveCache;
use store::notifier::FileOutboxNotifier;
use worker::{RecordingPublisher, Worker};

use super::helpers::{t0, World};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn redis(port: u16) -> Option<Child> {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rating_goes_on_while_redis_is_down_and_the_cache_is_rebuilt() {
    let port = free_port();
    let Some(mut server) = redis(port) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but redis-server cannot run"
        );
        return;
    };
    let db = store::testing::TestDb::sqlite().await.unwrap();
    let w = World::new(db, Money::from_fen(10_000)).await;
    let cache = LiveCache::redis(&format!("redis://127.0.0.1:{port}"), "t:")
        .await
        .unwrap();
    let worker = Worker::new(
        w.db.conn().clone(),
        super::helpers::settings(w.dir.path()),
        cache.clone(),
        Arc::new(RecordingPublisher::default()),
        Arc::new(FileOutboxNotifier::new(w.dir.path())),
    );
    worker
        .ingest_batch(&w.batch(1, &[(0, "100.00"), (60, "101.00")]), t0())
        .await
        .unwrap();
    worker.rate_pending(t0()).await.unwrap();
    assert_eq!(
        cache.get(w.account.id).await.unwrap().unwrap().balance,
        Money::from_fen(9_900)
    );

    server.kill().unwrap();
    server.wait().unwrap();
    worker
        .ingest_batch(&w.batch(2, &[(120, "103.00")]), t0())
        .await
        .unwrap();
    worker.rate_pending(t0()).await.unwrap();
    assert_eq!(w.balance().await, Money::from_fen(9_700), "rating went on");
    assert!(cache.is_stale());
    assert_eq!(
        worker.tick(t0()).await.unwrap().live_rebuilt,
        0,
        "nothing to rebuild into yet"
    );

    let mut server = redis(port).unwrap();
    let rebuilt = worker.tick(t0()).await.unwrap().live_rebuilt;
    assert!(rebuilt >= 1);
    assert!(!cache.is_stale());
    assert_eq!(
        cache.get(w.account.id).await.unwrap().unwrap().balance,
        Money::from_fen(9_700)
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
