//! Scale-out end to end: two `wattpay worker` processes share one private Mosquitto (MQTT 5,
//! persistence on) and one PostgreSQL database, while 300 simulated meters on 3 gateways (a
//! Modbus simulator and a real agent each) publish readings. One worker is SIGKILLed mid-flow,
//! stays away for several session expiries (a top-up's close command has to get through
//! meanwhile), and comes back. Then:
//! - every reading the agents published is stored, once;
//! - no reading waited longer than the session expiry plus slack (publish → stored), so the
//!   killed worker's share did not stall and was not lost with its session;
//! - nothing was charged twice: ledger idempotency keys unique, balance = sum(ledger) for every
//!   account, and no account charged for more energy than its meter counted;
//! - no command executed twice: each simulated relay was written exactly as often as trip and
//!   close commands to it succeeded.
//!
//! Needs `/usr/sbin/mosquitto` and `WATTPAY_TEST_DATABASE_URL`; without them it says why and
//! skips, except with `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone as _, Utc};
use gateway_agent::simulator::{SimMeterConfig, Simulator, SimulatorConfig, SimulatorHandle};
use protocol::RelayState;
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait as _};
use serde_json::json;

const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// A gateway with one meter that the test plays itself: right after the kill it publishes a
/// burst, so that (round robin) some of it is queued in the killed worker's session for sure.
const PROBE_GATEWAY: &str = "gw-scaleprobe";
const PROBE_METER: &str = "m-probe1";
const PROBE_BATCHES: u64 = 10;
const GATEWAYS: usize = 3;
const METERS_PER_GATEWAY: u8 = 100;
/// Meters per gateway seeded with 5 fen and a heavy load: they trip within seconds.
const LOW_PER_GATEWAY: u8 = 2;
const SESSION_EXPIRY_SECS: u64 = 5;
/// What a reading may wait beyond the session expiry on this shared, busy machine.
const SLACK: Duration = Duration::from_secs(10);
/// How long the killed worker stays away: several session expiries.
const OUTAGE: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `None` (after saying why) when a real service is missing and CI is not `true`.
fn services() -> Option<String> {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let pg = std::env::var(store::testing::TEST_DATABASE_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty());
    let missing = match (Path::new(MOSQUITTO).exists(), &pg) {
        (false, _) => format!("{MOSQUITTO} is not installed"),
        (true, None) => format!("{} is unset", store::testing::TEST_DATABASE_URL_VAR),
        (true, Some(url)) => return Some(url.trim().to_owned()),
    };
    assert!(!ci, "CI=true requires the scale-out test to run: {missing}");
    eprintln!("SKIPPED scale-out: {missing}");
    None
}

/// A Mosquitto of this test only: MQTT 5 capable, persistence on.
struct Mosquitto {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {}/\nmax_queued_messages 10000\nsys_interval 1\n\
                 user root\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < end, "mosquitto did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Mosquitto {
            port,
            child,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `wattpay worker` process; SIGKILLed on drop.
struct WorkerProcess(Child);

impl WorkerProcess {
    /// Starts `wattpay worker`; its log is appended to `{data_dir}/worker.log`.
    fn start(id: &str, data_dir: &Path, database_url: &str, mqtt_url: &str) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("worker.log"))
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wattpay"));
        for (key, _) in std::env::vars() {
            if key.starts_with("WATTPAY_") {
                cmd.env_remove(key);
            }
        }
        let child = cmd
            .arg("--data-dir")
            .arg(data_dir)
            .arg("worker")
            .env("WATTPAY_DATABASE_URL", database_url)
            .env("WATTPAY_MQTT_URL", mqtt_url)
            .env("WATTPAY_WORKER_ID", id)
            .env(
                "WATTPAY_MQTT_SESSION_EXPIRY_SECS",
                SESSION_EXPIRY_SECS.to_string(),
            )
            .env("WATTPAY_TRIP_WINDOWS", "always")
            .env("WATTPAY_COMMAND_TIMEOUT", "5")
            .env("RUST_LOG", "warn,worker::session=info")
            .stdout(log)
            .spawn()
            .unwrap();
        WorkerProcess(child)
    }

    fn kill(&mut self) {
        // SIGKILL: no goodbye to the broker, whatever batch it was in the middle of.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One seeded meter.
#[derive(Clone)]
struct Seeded {
    gateway: usize,
    slave: u8,
    wire_id: String,
    account: store::AccountId,
    low: bool,
}

fn gateway_id(g: usize) -> String {
    format!("gw-scale{}", g + 1)
}

fn wire_id(g: usize, slave: u8) -> String {
    format!("m-{}{slave:03}", g + 1)
}

async fn seed(db: &DatabaseConnection) -> (store::OrgId, Vec<Seeded>) {
    let txn = db.begin().await.unwrap();
    let org = store::organization::create_organization(&txn, "扩容测试 Scale-out")
        .await
        .unwrap();
    let site = store::site::create(
        &txn,
        org.id,
        store::site::NewSite::named("扩容园区 Scale Park"),
    )
    .await
    .unwrap();
    let building = store::building::create(&txn, org.id, site.id, "1号楼")
        .await
        .unwrap();
    let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let tariff = store::tariff::create(&txn, org.id, "flat ¥1/kWh")
        .await
        .unwrap();
    store::tariff::add_version(
        &txn,
        org.id,
        tariff.id,
        from,
        &serde_json::to_value(domain::TariffVersion::flat(from, Decimal::ONE)).unwrap(),
    )
    .await
    .unwrap();
    let map = serde_json::to_value(gateway_agent::simulator::explicit_map()).unwrap();
    let mut seeded = Vec::new();
    for g in 0..GATEWAYS {
        let gateway = store::gateway::create(
            &txn,
            org.id,
            store::gateway::NewGateway {
                site_id: site.id,
                gateway_id: gateway_id(g),
                name: format!("DTU {}", g + 1),
                mqtt_password_hash: None,
            },
        )
        .await
        .unwrap();
        for slave in 1..=METERS_PER_GATEWAY {
            let low = slave <= LOW_PER_GATEWAY;
            let unit = store::unit::create(
                &txn,
                org.id,
                building.id,
                &format!("{}{slave:03}", g + 1),
                store::UnitKind::Flat,
            )
            .await
            .unwrap();
            let account = store::account::open_in_txn(
                &txn,
                org.id,
                store::account::NewAccount {
                    unit_id: unit.id,
                    tenant_id: None,
                    tariff_id: Some(tariff.id),
                    initial_balance: domain::Money::from_fen(if low { 5 } else { 10_000 }),
                    created_by: None,
                },
            )
            .await
            .unwrap();
            store::meter::create(
                &txn,
                org.id,
                store::meter::NewMeter {
                    gateway_id: gateway.id,
                    unit_id: Some(unit.id),
                    bus: "rs485-1".to_owned(),
                    slave: i32::from(slave),
                    wire_id: wire_id(g, slave),
                    model: None,
                    register_map: Some(map.clone()),
                    ct_ratio: Decimal::ONE,
                    max_power_kw: Decimal::from(2_000),
                },
            )
            .await
            .unwrap();
            seeded.push(Seeded {
                gateway: g,
                slave,
                wire_id: wire_id(g, slave),
                account: account.id,
                low,
            });
        }
    }
    // A gateway the test plays itself, to publish at a chosen moment.
    let probe = store::gateway::create(
        &txn,
        org.id,
        store::gateway::NewGateway {
            site_id: site.id,
            gateway_id: PROBE_GATEWAY.to_owned(),
            name: "probe".to_owned(),
            mqtt_password_hash: None,
        },
    )
    .await
    .unwrap();
    let unit = store::unit::create(&txn, org.id, building.id, "probe", store::UnitKind::Flat)
        .await
        .unwrap();
    store::account::open_in_txn(
        &txn,
        org.id,
        store::account::NewAccount {
            unit_id: unit.id,
            tenant_id: None,
            tariff_id: Some(tariff.id),
            initial_balance: domain::Money::from_fen(10_000),
            created_by: None,
        },
    )
    .await
    .unwrap();
    store::meter::create(
        &txn,
        org.id,
        store::meter::NewMeter {
            gateway_id: probe.id,
            unit_id: Some(unit.id),
            bus: "rs485-1".to_owned(),
            slave: 1,
            wire_id: PROBE_METER.to_owned(),
            model: None,
            register_map: Some(map),
            ct_ratio: Decimal::ONE,
            max_power_kw: Decimal::from(2_000),
        },
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    (org.id, seeded)
}

/// What the test saw the agents publish: when each reading `(meter, ts in ms)` first came by.
#[derive(Default)]
struct Seen {
    readings: HashMap<(String, i64), DateTime<Utc>>,
    /// Clients connected to the broker (`$SYS`, every second).
    clients: u64,
}

const CLIENTS_TOPIC: &str = "$SYS/broker/clients/connected";

/// A plain (not shared) subscriber on every uplink topic: sees all the agents publish.
async fn observe(port: u16, seen: Arc<Mutex<Seen>>) -> tokio::task::JoinHandle<()> {
    let mut o = rumqttc::MqttOptions::new("scaleout-observer", "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(4 << 20, 4 << 20);
    let (client, mut events) = rumqttc::AsyncClient::new(o, 1_000);
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    let mut subscribed_tx = Some(subscribed_tx);
    let task = tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    client
                        .subscribe(CLIENTS_TOPIC, rumqttc::QoS::AtMostOnce)
                        .await
                        .unwrap();
                    client
                        .subscribe(protocol::topic::UPLINK_FILTER, rumqttc::QoS::AtLeastOnce)
                        .await
                        .unwrap();
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))
                    if p.topic == CLIENTS_TOPIC =>
                {
                    if let Ok(n) = String::from_utf8_lossy(&p.payload).trim().parse() {
                        seen.lock().unwrap().clients = n;
                    }
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(ack))) if ack.pkid > 1 => {
                    if let Some(tx) = subscribed_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))
                    if p.topic.ends_with("/up/readings") =>
                {
                    let now = Utc::now();
                    let batch = protocol::decode_reading_batch(&p.payload).unwrap();
                    let mut seen = seen.lock().unwrap();
                    for r in batch.readings {
                        seen.readings
                            .entry((r.meter.as_str().to_owned(), r.ts.timestamp_millis()))
                            .or_insert(now);
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), subscribed)
        .await
        .expect("the observer subscribed")
        .unwrap();
    task
}

/// A gateway: its simulator and the agent polling it.
struct Gateway {
    sim: SimulatorHandle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    agent: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start_gateway(g: usize, meters: &[Seeded], mqtt_url: &str, dir: &Path) -> Gateway {
    let mut config = SimulatorConfig::with_meters(([127, 0, 0, 1], 0).into(), 0, 0, Decimal::ZERO);
    config.meters = meters
        .iter()
        .filter(|m| m.gateway == g)
        .map(|m| SimMeterConfig {
            slave: m.slave,
            map: gateway_agent::simulator::explicit_map(),
            // The low accounts burn 5 fen within seconds; the others use a little.
            load_kw: if m.low {
                Decimal::from(40)
            } else {
                Decimal::ONE + Decimal::new(i64::from(m.slave % 7), 1)
            },
            energy_kwh: Decimal::from(1_000 + u32::from(m.slave)),
            relay: RelayState::Closed,
        })
        .collect();
    let sim = Simulator::start(config).await.unwrap();
    let list: Vec<_> = meters
        .iter()
        .filter(|m| m.gateway == g)
        .map(|m| {
            json!({"id": m.wire_id, "slave": m.slave,
                   "registers": gateway_agent::simulator::explicit_map()})
        })
        .collect();
    let agent_config: protocol::AgentConfig = serde_json::from_value(json!({
        "gateway_id": gateway_id(g),
        "data_dir": dir.join(format!("agent-{g}")),
        "status_interval": "15s",
        "mqtt": {"url": mqtt_url, "client_id": format!("scale-agent-{g}")},
        "bus": [{
            "name": "rs485-1", "transport": "tcp", "address": sim.addr().to_string(),
            "poll_interval": "5s", "timeout": "1s", "retries": 1, "meter": list,
        }],
    }))
    .unwrap();
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(gateway_agent::Agent::run(agent_config, async move {
        let _ = stop_rx.await;
    }));
    Gateway {
        sim,
        stop: Some(stop),
        agent,
    }
}

async fn rows(db: &DatabaseConnection, sql: String) -> Vec<sea_orm::QueryResult> {
    db.query_all(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
}

async fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "timed out after {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    start.elapsed()
}

/// Readings stored for the organization: `(meter wire id, ts in ms)` → received_at.
async fn stored(
    db: &DatabaseConnection,
    org: store::OrgId,
) -> HashMap<(String, i64), DateTime<Utc>> {
    let mut out = HashMap::new();
    for row in rows(
        db,
        format!(
            "SELECT m.wire_id, r.ts, r.received_at FROM readings r JOIN meters m ON m.id = r.meter_id \
             WHERE r.organization_id = '{org}'"
        ),
    )
    .await
    {
        let wire: String = row.try_get("", "wire_id").unwrap();
        let ts: DateTime<Utc> = row.try_get("", "ts").unwrap();
        let received: DateTime<Utc> = row.try_get("", "received_at").unwrap();
        let previous = out.insert((wire.clone(), ts.timestamp_millis()), received);
        assert!(previous.is_none(), "reading {wire} at {ts} stored twice");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_share_the_load_and_a_killed_one_loses_and_stalls_nothing() {
    let Some(pg_url) = services() else {
        return;
    };
    let db = store::testing::TestDb::postgres(&pg_url).await.unwrap();
    let mosquitto = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let (org, meters) = seed(db.conn()).await;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let observer = observe(mosquitto.port, Arc::clone(&seen)).await;
    let worker_dir = |id: &str| -> PathBuf {
        let path = dir.path().join(id);
        std::fs::create_dir_all(&path).unwrap();
        path
    };
    let mut a = WorkerProcess::start("scale-a", &worker_dir("a"), db.url(), &mosquitto.url());
    let b = WorkerProcess::start("scale-b", &worker_dir("b"), db.url(), &mosquitto.url());
    // Readings published before a worker subscribed would reach nobody: wait for both
    // workers (and the observer) to be connected; they subscribe on the CONNACK.
    wait_for("both workers connected", Duration::from_secs(120), || {
        seen.lock().unwrap().clients >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut gateways = Vec::new();
    for g in 0..GATEWAYS {
        gateways.push(start_gateway(g, &meters, &mosquitto.url(), dir.path()).await);
    }
    let low: Vec<&Seeded> = meters.iter().filter(|m| m.low).collect();
    let relay = |m: &Seeded| gateways[m.gateway].sim.relay(m.slave);

    // Both workers rate; the low accounts run out and their relays trip.
    wait_for(
        "every low account tripped",
        Duration::from_secs(120),
        || low.iter().all(|m| relay(m) == Some(RelayState::Open)),
    )
    .await;

    // SIGKILL one worker while readings flow; it stays away for several session expiries.
    let probe = probe_publisher(mosquitto.port);
    a.kill();
    let killed_at = Utc::now();
    let gw = protocol::GatewayId::parse(PROBE_GATEWAY).unwrap();
    for n in 1..=PROBE_BATCHES {
        let batch = protocol::ReadingBatch {
            v: protocol::V1,
            gateway: gw.clone(),
            batch: n,
            readings: vec![protocol::Reading {
                meter: protocol::MeterId::parse(PROBE_METER).unwrap(),
                ts: killed_at
                    - chrono::Duration::milliseconds(i64::try_from(PROBE_BATCHES - n).unwrap()),
                outcome: protocol::ReadingOutcome::Values(protocol::ReadingValues {
                    energy_kwh: Some(Decimal::new(100_000 + i64::try_from(n).unwrap(), 2)),
                    ..protocol::ReadingValues::default()
                }),
            }],
        };
        probe
            .publish(
                protocol::topic::readings(&gw),
                rumqttc::QoS::AtLeastOnce,
                false,
                protocol::encode(&batch).unwrap(),
            )
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A top-up while it is away must still close the relay (outbox → close command → ack).
    let topped: Vec<&Seeded> = low.iter().step_by(2).copied().collect();
    for m in &topped {
        let txn = db.conn().begin().await.unwrap();
        store::counter::post_receipt(
            &txn,
            org,
            store::counter::NewReceipt {
                account_id: m.account,
                kind: store::counter::ReceiptKind::Payment(store::counter::PaymentMethod::Cash),
                amount: domain::Money::from_fen(5_000),
                note: None,
                idempotency_key: format!("scale-topup-{}", m.wire_id),
                cashier: None,
            },
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
    }
    let restored_in = wait_for(
        "the topped-up relays closed while a worker was down",
        Duration::from_secs(30),
        || topped.iter().all(|m| relay(m) == Some(RelayState::Closed)),
    )
    .await;
    let outage_left = OUTAGE.saturating_sub(Duration::from_secs(2) + restored_in);
    tokio::time::sleep(outage_left).await;
    let restarted_at = Utc::now();
    let a = WorkerProcess::start("scale-a", &worker_dir("a"), db.url(), &mosquitto.url());
    tokio::time::sleep(Duration::from_secs(15)).await;

    // Stop the agents (everything they read is published by then), then let the workers
    // store the rest.
    for g in &mut gateways {
        if let Some(stop) = g.stop.take() {
            let _ = stop.send(());
        }
    }
    for g in &mut gateways {
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut g.agent).await;
    }
    let published = seen.lock().unwrap().readings.clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    let stored = loop {
        let stored = stored(db.conn(), org).await;
        if published.keys().all(|k| stored.contains_key(k)) || Instant::now() > deadline {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Let the last batches be rated before the books are checked.
    tokio::time::sleep(Duration::from_secs(5)).await;
    observer.abort();

    // Every reading published is stored exactly once (nothing stored that nobody published).
    let missing: Vec<_> = published
        .keys()
        .filter(|k| !stored.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} published readings never stored (worker killed at {killed_at}), e.g. {:?}",
        missing.len(),
        published.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(
        stored.len(),
        published.len(),
        "stored readings nobody published"
    );
    assert!(
        published.len() > meters.len() * 5,
        "only {} readings",
        published.len()
    );

    // Publish → stored latency: nothing waited past the session expiry (plus slack).
    let mut waits: Vec<(Duration, &(String, i64))> = published
        .iter()
        .map(|(k, at)| {
            let wait = (stored[k] - *at).to_std().unwrap_or(Duration::ZERO);
            (wait, k)
        })
        .collect();
    waits.sort();
    let pick = |percent: usize| waits[(waits.len() - 1) * percent / 100].0;
    let (worst, worst_key) = waits[waits.len() - 1];
    println!(
        "scale-out: {} readings from {} meters; publish → stored p50 {:?}, p99 {:?}, max {:?} ({worst_key:?}); \
         worker killed {killed_at}, back {restarted_at}; top-up → relay closed in {restored_in:?}",
        published.len(),
        meters.len(),
        pick(50),
        pick(99),
        worst,
    );
    let limit = Duration::from_secs(SESSION_EXPIRY_SECS) + SLACK;
    assert!(
        worst <= limit,
        "a reading waited {worst:?} (> {limit:?}) to be stored: {worst_key:?}"
    );

    // Nothing charged twice: keys unique, balances = sums, no more charged than consumed.
    let dup_keys = rows(
        db.conn(),
        "SELECT idempotency_key FROM ledger_entries GROUP BY idempotency_key HAVING COUNT(*) > 1"
            .to_owned(),
    )
    .await;
    assert!(dup_keys.is_empty(), "duplicate ledger idempotency keys");
    let mismatches = store::unscoped::verify_balances(db.conn()).await.unwrap();
    assert!(
        mismatches.is_empty(),
        "balance ≠ sum(ledger): {mismatches:?}"
    );
    let charged: HashMap<String, i64> = rows(
        db.conn(),
        format!(
            "SELECT m.wire_id, COALESCE(-SUM(l.amount_fen), 0)::BIGINT AS fen, \
             (SELECT MAX(energy_wh) - MIN(energy_wh) FROM readings r WHERE r.meter_id = m.id)::BIGINT AS wh \
             FROM meters m JOIN accounts a ON a.unit_id = m.unit_id \
             LEFT JOIN ledger_entries l ON l.account_id = a.id AND l.kind = 'charge' \
             WHERE m.organization_id = '{org}' GROUP BY m.id, m.wire_id"
        ),
    )
    .await
    .into_iter()
    .map(|row| {
        let wire: String = row.try_get("", "wire_id").unwrap();
        let fen: i64 = row.try_get("", "fen").unwrap();
        let wh: Option<i64> = row.try_get("", "wh").unwrap();
        // ¥1/kWh: 10 Wh is a fen; one fen of rounding.
        let consumed_fen = (wh.unwrap_or(0) + 9) / 10;
        assert!(
            fen <= consumed_fen + 1,
            "{wire}: charged {fen} fen for {consumed_fen} fen of energy"
        );
        (wire, fen)
    })
    .collect();
    assert_eq!(charged.len(), meters.len() + 1, "and the probe meter");
    let normal_charged = meters
        .iter()
        .filter(|m| !m.low && charged[&m.wire_id] > 0)
        .count();
    assert!(
        normal_charged > meters.len() / 2,
        "only {normal_charged} accounts charged"
    );

    // No command executed twice: relay writes = succeeded trip/close commands, per meter.
    let succeeded: HashMap<String, u64> = rows(
        db.conn(),
        format!(
            "SELECT m.wire_id, COUNT(*) AS n FROM commands c JOIN meters m ON m.id = c.meter_id \
             WHERE c.organization_id = '{org}' AND c.action IN ('trip', 'close') \
             AND c.state = 'succeeded' GROUP BY m.wire_id"
        ),
    )
    .await
    .into_iter()
    .map(|row| {
        let wire: String = row.try_get("", "wire_id").unwrap();
        let n: i64 = row.try_get("", "n").unwrap();
        (wire, u64::try_from(n).unwrap())
    })
    .collect();
    for m in &meters {
        let writes = gateways[m.gateway].sim.relay_writes(m.slave);
        let acked = succeeded.get(&m.wire_id).copied().unwrap_or(0);
        assert_eq!(
            writes, acked,
            "{}: {writes} relay writes for {acked} succeeded trip/close commands",
            m.wire_id
        );
    }
    for m in &topped {
        assert_eq!(
            succeeded.get(&m.wire_id),
            Some(&2),
            "{}: one trip, one close",
            m.wire_id
        );
    }
    // The burst's share queued for the killed worker came through its adopted session.
    drop((a, b));
    let adopted = std::fs::read_to_string(worker_dir("b").join("worker.log")).unwrap();
    let line = adopted
        .lines()
        .find(|l| l.contains("ended a stopped worker's MQTT session"))
        .unwrap_or_else(|| panic!("worker b never adopted a's session:\n{adopted}"));
    println!("scale-out: {line}");
}

/// A client publishing the probe gateway's batches.
fn probe_publisher(port: u16) -> rumqttc::AsyncClient {
    let o = rumqttc::MqttOptions::new("scaleout-probe", "127.0.0.1", port);
    let (client, mut events) = rumqttc::AsyncClient::new(o, 100);
    tokio::spawn(async move {
        loop {
            if events.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    client
}
