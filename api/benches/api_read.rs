//! The API benchmark of issue 5 (a bench binary, not a timed test): one account read at high
//! concurrency, beside raw `redis-benchmark` GET and an actix hello-world measured in the same
//! run on the same machine, so the figures can be compared.
//!
//! `cargo bench -p api --bench api_read` (debug builds are meaningless: use the bench profile).
//! Reads `GET /api/v1/accounts/{id}` with a manager token by default; with
//! `WATTPAY_BENCH_PATH=/api/v1/me/accounts/{id}` the bench signs the seeded tenant in by
//! one-time code (the code from the embedded SMS outbox) and reads with the tenant's token
//! (`WATTPAY_BENCH_TOKEN` overrides either; `{id}` is replaced by the seeded account).
//! Database: SQLite, or PostgreSQL when `WATTPAY_TEST_DATABASE_URL` is set. With
//! `WATTPAY_TEST_REDIS_URL` the API's live cache is Redis, holding the account's snapshot as the
//! worker would (otherwise in-process); `redis-benchmark` GET runs against the same Redis.
//! Knobs: `WATTPAY_BENCH_SECS` (default 5), `WATTPAY_BENCH_CONCURRENCY` (default 64),
//! `WATTPAY_BENCH_RATE` (the fixed-rate run, default 1000 requests/s).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::time::{Duration, Instant};

use actix_web::{web, App, HttpServer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One keep-alive HTTP/1.1 connection that sends the same GET again and again.
struct Conn {
    stream: TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(port: u16, path: &str, token: Option<&str>) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n{auth}\r\n").into_bytes();
        Conn {
            stream,
            request,
            buf: Vec::with_capacity(8192),
        }
    }

    /// Sends the request and reads the whole answer; panics on anything but 200.
    async fn get(&mut self) {
        self.stream.write_all(&self.request).await.unwrap();
        self.buf.clear();
        let mut chunk = [0u8; 8192];
        loop {
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).unwrap();
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().unwrap())
                    })
                    .expect("content-length");
                while self.buf.len() < end + 4 + len {
                    let n = self.stream.read(&mut chunk).await.unwrap();
                    assert!(n > 0);
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                return;
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

struct Stats {
    requests: usize,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn stats(mut latencies: Vec<Duration>, secs: f64) -> Stats {
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i].as_secs_f64() * 1000.0
    };
    Stats {
        requests: latencies.len(),
        secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// Closed loop: `concurrency` connections each sending as fast as answers come, for `secs`.
async fn saturate(
    port: u16,
    path: &str,
    token: Option<&str>,
    concurrency: u64,
    secs: u64,
) -> Stats {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let mut conn = Conn::open(port, path, token).await;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                conn.get().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    stats(all, started.elapsed().as_secs_f64())
}

/// Open loop: `rate` requests per second for `secs`, latency counted from when each request
/// was due (so a stalled server is not hidden by waiting clients).
async fn fixed_rate(port: u16, path: &str, token: Option<&str>, rate: u64, secs: u64) -> Stats {
    let (tx, rx) = mpsc::channel::<Instant>(100_000);
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let mut conn = Conn::open(port, path, token).await;
        let rx = rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let due = { rx.lock().await.recv().await };
                let Some(due) = due else { break };
                conn.get().await;
                lat.push(due.elapsed());
            }
            lat
        }));
    }
    let started = Instant::now();
    let total = rate * secs;
    let interval = Duration::from_secs(1).as_secs_f64() / rate as f64;
    for i in 0..total {
        let due = started + Duration::from_secs_f64(interval * i as f64);
        tokio::time::sleep_until(due.into()).await;
        tx.send(due).await.unwrap();
    }
    drop(tx);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    stats(all, started.elapsed().as_secs_f64())
}

/// `redis-benchmark` GET with the same concurrency: (requests/s, p99 ms when it reports one).
fn redis_benchmark(concurrency: u64) -> Option<(f64, Option<f64>)> {
    let url = std::env::var("WATTPAY_TEST_REDIS_URL").unwrap_or("redis://127.0.0.1:6379".into());
    let hostport = url
        .trim_start_matches("redis://")
        .split('/')
        .next()?
        .to_owned();
    let (host, port) = hostport.split_once(':').unwrap_or((&hostport, "6379"));
    let out = std::process::Command::new("redis-benchmark")
        .args(["-h", host, "-p", port, "-t", "get", "-n", "200000", "-c"])
        .arg(concurrency.to_string())
        .args(["--csv"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("\"GET\""))?;
    let cols: Vec<f64> = line
        .split(',')
        .skip(1)
        .filter_map(|c| c.trim_matches('"').parse().ok())
        .collect();
    // Redis 7: rps, avg, min, p50, p95, p99, max; older versions only rps.
    Some((cols[0], cols.get(5).copied()))
}

fn print(name: &str, s: &Stats) {
    println!(
        "{name:<44} {:>10.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} requests)",
        s.requests as f64 / s.secs,
        s.p50_ms,
        s.p99_ms,
        s.requests
    );
}

/// Signs a tenant in as a phone does: asks for a code, reads it from the embedded SMS outbox,
/// verifies it with consent. Answers the tenant's access token.
async fn tenant_token(port: u16, data_dir: &std::path::Path, phone: &str) -> String {
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}/api/v1/tenant/auth");
    let res = client
        .post(format!("{base}/otp"))
        .json(&serde_json::json!({ "phone": phone }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let dir = data_dir.join("outbox").join("sms");
    let code = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let sms: store::notifier::SmsFile =
                serde_json::from_slice(&std::fs::read(e.ok()?.path()).ok()?).ok()?;
            (sms.to == phone).then_some(sms.text)
        })
        .find_map(|text| {
            text.split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .map(str::to_owned)
        })
        .expect("the code was sent");
    let verified: serde_json::Value = client
        .post(format!("{base}/verify"))
        .json(&serde_json::json!({ "phone": phone, "code": code, "consent": true }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    verified["access_token"].as_str().unwrap().to_owned()
}

#[actix_web::main]
async fn main() {
    let secs = env_u64("WATTPAY_BENCH_SECS", 5);
    let concurrency = env_u64("WATTPAY_BENCH_CONCURRENCY", 64);
    let rate = env_u64("WATTPAY_BENCH_RATE", 1000);

    // The API over a seeded database, exactly as `Application::build` starts it.
    let test_db = match std::env::var("WATTPAY_TEST_DATABASE_URL") {
        Ok(url) => store::testing::TestDb::postgres(&url).await.unwrap(),
        Err(_) => store::testing::TestDb::sqlite().await.unwrap(),
    };
    let db = test_db.conn().clone();
    let seeded = store::testing::seed_two_orgs(&db).await.unwrap();
    let user = store::user::create_user(
        &db,
        store::user::NewUser {
            email: "bench@a.example".into(),
            password_hash: api::auth::password::hash_password("bench password 1").unwrap(),
            name: "Bench".into(),
            platform_admin: false,
        },
    )
    .await
    .unwrap();
    store::user::add_membership(&db, seeded.a.org, user.id, domain::Role::Viewer)
        .await
        .unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let settings = api::Settings {
        http_addr: "127.0.0.1:0".into(),
        data_dir: data_dir.path().to_owned(),
        ..api::Settings::default()
    };
    let mut services = api::startup::Services::embedded(&settings);
    if let Ok(url) = std::env::var("WATTPAY_TEST_REDIS_URL") {
        let prefix = format!("bench-{}:", uuid::Uuid::new_v4().simple());
        services.live = store::live::LiveCache::redis(&url, &prefix).await.unwrap();
    }
    let a = store::account::get(&db, seeded.a.org, seeded.a.account)
        .await
        .unwrap();
    services
        .live
        .put(&store::live::LiveSnapshot {
            account_id: a.id,
            organization_id: a.organization_id,
            balance: a.balance(),
            cc_state: a.cc_state.clone(),
            relay: Some("closed".into()),
            last_reading_at: Some(chrono::Utc::now()),
            today_kwh: domain::Energy::ZERO,
            today_cost: domain::Money::ZERO,
            updated_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let app = api::Application::build_with(settings, db.clone(), services).unwrap();
    let api_port = app.port();
    tokio::spawn(app.run_until_stopped());
    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{api_port}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "bench@a.example", "password": "bench password 1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let account: uuid::Uuid = seeded.a.account.into();
    let path = std::env::var("WATTPAY_BENCH_PATH")
        .unwrap_or_else(|_| "/api/v1/accounts/{id}".into())
        .replace("{id}", &account.to_string());
    let token = match std::env::var("WATTPAY_BENCH_TOKEN") {
        Ok(t) => t,
        Err(_) if path.starts_with("/api/v1/me/") => {
            tenant_token(api_port, data_dir.path(), "13800000000").await
        }
        Err(_) => login["access_token"].as_str().unwrap().to_owned(),
    };

    // An actix hello-world with the same number of workers.
    let hello = HttpServer::new(|| App::new().route("/", web::get().to(|| async { "hello" })))
        .workers(std::thread::available_parallelism().map_or(2, usize::from))
        .bind("127.0.0.1:0")
        .unwrap();
    let hello_port = hello.addrs()[0].port();
    tokio::spawn(hello.run());

    println!(
        "Wattpay API benchmark: {} cores, {concurrency} connections, {secs} s per run, {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        if std::env::var("WATTPAY_TEST_DATABASE_URL").is_ok() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    // Warm up the connection pool and caches.
    saturate(api_port, &path, Some(&token), 8, 1).await;
    let hello_stats = saturate(hello_port, "/", None, concurrency, secs).await;
    print("actix hello-world (closed loop)", &hello_stats);
    let api_stats = saturate(api_port, &path, Some(&token), concurrency, secs).await;
    print(
        &format!(
            "GET {} (closed loop)",
            path.replace(&account.to_string(), "{id}")
        ),
        &api_stats,
    );
    let paced = fixed_rate(api_port, &path, Some(&token), rate, secs).await;
    print(&format!("same, paced at {rate} req/s"), &paced);
    match redis_benchmark(concurrency) {
        Some((rps, p99)) => {
            println!(
                "{:<44} {rps:>10.0} req/s   p99 {}",
                "redis-benchmark GET",
                p99.map_or("n/a".to_owned(), |p| format!("{p:>6.2} ms"))
            );
            println!(
                "API throughput / redis GET = {:.2} (aim: at least 0.4)",
                api_stats.requests as f64 / api_stats.secs / rps
            );
        }
        None => println!("redis-benchmark not available: Redis comparison skipped"),
    }
    println!(
        "must: p99 under 5 ms at {rate} req/s: {}",
        if paced.p99_ms < 5.0 { "met" } else { "NOT met" }
    );
    drop(test_db);
}
