//! End-to-end ingestion benchmark: readings for N meters published through a real broker are
//! stored, rated, charged, and reflected in balances and the live cache by a running worker;
//! in the same run the same readings are loaded with PostgreSQL `COPY` into an identical table,
//! and the ratio is reported, with the time each phase of the worker took.
//!
//! ```text
//! WATTPAY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//! WATTPAY_BENCH_MQTT_URL=mqtt://127.0.0.1:1883 BENCH_METERS=10000 BENCH_ROUNDS=10 \
//!   cargo bench -p worker --bench ingest
//! ```
//! Without `WATTPAY_BENCH_MQTT_URL` the embedded broker is used.
//!
//! `BENCH_BACKLOG=1` measures fairness instead: one gateway of `BENCH_BACKLOG_METERS` meters
//! (default 500) flushes a day of queued readings (96 per meter, in the agent's batches of 200)
//! while another gateway of 100 meters keeps publishing a fresh reading per meter every
//! second; it reports how long after publishing each fresh round was rated (all its meters),
//! and the backlog's throughput.
#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use domain::{Money, TariffVersion};
use protocol::{Reading, ReadingBatch, ReadingOutcome, ReadingValues, V1};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use store::account::NewAccount;
use store::gateway::NewGateway;
use store::meter::NewMeter;
use store::testing::{SeededOrg, TestDb};
use store::{MeterId, TariffId};

const METERS_PER_GATEWAY: usize = 100;
/// The agent's largest batch (gateway-agent `MAX_READINGS_PER_BATCH`).
const AGENT_BATCH: usize = 200;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Creates a gateway `wire` with `meters` metered units, each with an open account.
async fn seed_gateway(
    db: &TestDb,
    org: &SeededOrg,
    tariff: TariffId,
    wire: &str,
    meters: usize,
) -> anyhow::Result<Vec<MeterId>> {
    let txn = db.begin().await?;
    let gw = store::gateway::create(
        &txn,
        org.org,
        NewGateway {
            site_id: org.site,
            gateway_id: wire.to_owned(),
            name: wire.to_owned(),
            mqtt_password_hash: None,
        },
    )
    .await?;
    let mut ids = Vec::with_capacity(meters);
    for m in 0..meters {
        let unit = store::unit::create(
            &txn,
            org.org,
            org.building,
            &format!("{wire}-{m}"),
            store::UnitKind::Flat,
        )
        .await?;
        store::account::open_in_txn(
            &txn,
            org.org,
            NewAccount {
                unit_id: unit.id,
                tenant_id: None,
                tariff_id: Some(tariff),
                initial_balance: Money::from_fen(1_000_000),
                created_by: None,
            },
        )
        .await?;
        let meter = store::meter::create(
            &txn,
            org.org,
            NewMeter {
                gateway_id: gw.id,
                unit_id: Some(unit.id),
                bus: "rs485-1".into(),
                slave: i32::try_from(m % 247 + 1)?,
                wire_id: format!("m-{m}"),
                model: None,
                register_map: None,
                ct_ratio: Decimal::ONE,
                max_power_kw: Decimal::from(60),
            },
        )
        .await?;
        ids.push(meter.id);
    }
    txn.commit().await?;
    Ok(ids)
}

/// One batch of `meters` readings of gateway `wire` at `ts` (meter `m` reads `kwh(m)`).
fn batch(wire: &str, no: u64, readings: Vec<(usize, DateTime<Utc>, Decimal)>) -> ReadingBatch {
    ReadingBatch {
        v: V1,
        gateway: protocol::GatewayId::parse(wire).unwrap(),
        batch: no,
        readings: readings
            .into_iter()
            .map(|(m, ts, kwh)| Reading {
                meter: protocol::MeterId::parse(&format!("m-{m}")).unwrap(),
                ts,
                outcome: ReadingOutcome::Values(ReadingValues {
                    energy_kwh: Some(kwh),
                    ..Default::default()
                }),
            })
            .collect(),
    }
}

fn phase_report(worker: &worker::Worker, wall: Duration) {
    let phases = worker.metrics().phase_seconds();
    let m = worker.metrics().snapshot();
    println!(
        "where the time goes (seconds summed over the worker's tasks; wall {:.2}s; {} flushes, \
         {} rating transactions, {} charges):",
        wall.as_secs_f64(),
        m.flushes,
        m.rating_txns,
        m.charges_posted
    );
    for (name, secs) in phases {
        println!(
            "  {name:<30} {secs:>8.3}s  {:>5.1}% of wall",
            100.0 * secs / wall.as_secs_f64()
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = std::env::var("WATTPAY_TEST_DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set WATTPAY_TEST_DATABASE_URL to a PostgreSQL server"))?;
    let db = TestDb::postgres(&server).await?;
    let org = store::testing::seed_org(&db, "bench", Money::ZERO).await?;
    let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let tariff = store::tariff::create(db.conn(), org.org, "flat").await?;
    store::tariff::add_version(
        db.conn(),
        org.org,
        tariff.id,
        from,
        &serde_json::to_value(TariffVersion::flat(from, Decimal::ONE))?,
    )
    .await?;
    if std::env::var("BENCH_BACKLOG").is_ok_and(|v| v == "1") {
        backlog(&db, &org, tariff.id).await
    } else {
        throughput(&db, &org, tariff.id).await
    }
}

struct Harness {
    running: worker::run::Running,
    client: AsyncClient,
    url: String,
    _dir: tempfile::TempDir,
}

async fn start(db: &TestDb) -> anyhow::Result<Harness> {
    let dir = tempfile::tempdir()?;
    let mqtt_url = std::env::var("WATTPAY_BENCH_MQTT_URL").ok();
    let settings = worker::Settings {
        data_dir: dir.path().to_owned(),
        mqtt_version: if mqtt_url.is_some() { 5 } else { 4 },
        mqtt_url,
        embedded_broker_port: 0,
        worker_id: format!("bench-{}", uuid::Uuid::new_v4().simple()),
        mqtt_share_group: format!("bench{}", uuid::Uuid::new_v4().simple()),
        trip_windows: "always".into(),
        ..worker::Settings::default()
    };
    let running = worker::run::start_with(
        settings,
        db.conn().clone(),
        store::live::LiveCache::in_process(),
    )?;
    let url = std::env::var("WATTPAY_BENCH_MQTT_URL")
        .unwrap_or_else(|_| running.broker.as_ref().unwrap().url());
    let (host, port) = worker::mqtt::parse_url(&url)?;
    let mut o = MqttOptions::new(
        format!("bench-pub-{}", uuid::Uuid::new_v4().simple()),
        host,
        port,
    );
    o.set_max_packet_size(8 << 20, 8 << 20).set_inflight(500);
    let (client, mut el) = AsyncClient::new(o, 10_000);
    tokio::spawn(async move { while el.poll().await.is_ok() {} });
    // Let the worker subscribe before the clock starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(Harness {
        running,
        client,
        url,
        _dir: dir,
    })
}

async fn throughput(db: &TestDb, org: &SeededOrg, tariff: TariffId) -> anyhow::Result<()> {
    let meters = env_usize("BENCH_METERS", 2_000);
    let rounds = env_usize("BENCH_ROUNDS", 10);
    let t = Instant::now();
    let gateways = meters.div_ceil(METERS_PER_GATEWAY);
    let mut wire_gateways = Vec::new();
    for g in 0..gateways {
        let wire = format!("gw-bench{g}");
        let n = METERS_PER_GATEWAY.min(meters - g * METERS_PER_GATEWAY);
        seed_gateway(db, org, tariff, &wire, n).await?;
        wire_gateways.push((wire, n));
    }
    eprintln!(
        "seeded {meters} meters on {gateways} gateways in {:.1?}",
        t.elapsed()
    );
    let h = start(db).await?;

    let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
    let mut payloads = Vec::new();
    let mut copy_rows = String::new();
    for r in 0..rounds {
        let ts = t0 + chrono::Duration::minutes(15 * i64::try_from(r)?);
        let kwh = Decimal::new(1000 + 5 * i64::try_from(r)?, 1);
        for (g, (wire, n)) in wire_gateways.iter().enumerate() {
            let b = batch(
                wire,
                u64::try_from(r)?,
                (0..*n).map(|m| (m, ts, kwh)).collect(),
            );
            for m in 0..*n {
                let _ = writeln!(
                    copy_rows,
                    "{},{g}-{m},{},{},{}",
                    org.org,
                    ts.to_rfc3339(),
                    100_000 + 500 * r,
                    ts.to_rfc3339()
                );
            }
            payloads.push((protocol::topic::readings(&b.gateway), protocol::encode(&b)?));
        }
    }
    let total = (meters * rounds) as u64;
    let start = Instant::now();
    for (topic, payload) in payloads {
        h.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await?;
    }
    let published = start.elapsed();
    let worker = h.running.worker.clone();
    let metrics = worker.metrics();
    let mut stored_at = None;
    loop {
        let m = metrics.snapshot();
        if stored_at.is_none() && m.readings_stored >= total {
            stored_at = Some(start.elapsed());
        }
        if m.readings_rated >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Counted as rated once charged and the pass's live snapshots were written.
    let rated = start.elapsed();
    h.running.stop().await;
    let mismatches = store::ledger::verify_balances(db.conn()).await?;
    assert!(mismatches.is_empty(), "balances differ from their ledgers");

    // The same readings by COPY into an identical table.
    db.execute(Statement::from_string(
        db.get_database_backend(),
        "CREATE TABLE bench_copy (LIKE readings INCLUDING DEFAULTS INCLUDING INDEXES)",
    ))
    .await?;
    db.execute(Statement::from_string(
        db.get_database_backend(),
        "ALTER TABLE bench_copy ALTER COLUMN meter_id TYPE text",
    ))
    .await?;
    let pool = db.get_postgres_connection_pool();
    let mut conn = pool.acquire().await?;
    let copy_start = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY bench_copy (organization_id, meter_id, ts, energy_wh, received_at) FROM STDIN WITH (FORMAT csv)")
        .await?;
    copy.send(copy_rows.as_bytes()).await?;
    copy.finish().await?;
    let copied = copy_start.elapsed();

    let rate = total as f64 / rated.as_secs_f64();
    let copy_rate = total as f64 / copied.as_secs_f64();
    println!(
        "readings: {total} ({meters} meters x {rounds} rounds, {gateways} gateways, broker {})",
        h.url
    );
    println!(
        "published in {published:.2?}; stored after {:.2?}; rated after {rated:.2?}",
        stored_at.unwrap_or(rated)
    );
    println!(
        "end to end: {rate:.0} readings/s (stored, rated, charged, balance and cache updated)"
    );
    println!(
        "raw COPY:   {copy_rate:.0} readings/s; ratio {:.3}",
        rate / copy_rate
    );
    println!(
        "storing alone: {:.0} readings/s",
        total as f64 / stored_at.unwrap_or(rated).as_secs_f64()
    );
    phase_report(&worker, rated);
    Ok(())
}

async fn backlog(db: &TestDb, org: &SeededOrg, tariff: TariffId) -> anyhow::Result<()> {
    let backlog_meters = env_usize("BENCH_BACKLOG_METERS", 500);
    let fresh_meters = env_usize("BENCH_FRESH_METERS", 100);
    let per_meter = 96;
    seed_gateway(db, org, tariff, "gw-backlog", backlog_meters).await?;
    let fresh_ids = seed_gateway(db, org, tariff, "gw-fresh", fresh_meters).await?;
    let h = start(db).await?;

    // The backlog: yesterday, every 15 minutes, in the agent's batches.
    let day = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
    let mut readings = Vec::new();
    for k in 0..per_meter {
        let ts = day + chrono::Duration::minutes(15 * k);
        for m in 0..backlog_meters {
            readings.push((m, ts, Decimal::new(1000 + 5 * k, 1)));
        }
    }
    let backlog_total = readings.len() as u64;
    let mut backlog_payloads = Vec::new();
    for (i, chunk) in readings.chunks(AGENT_BATCH).enumerate() {
        let b = batch("gw-backlog", i as u64 + 1, chunk.to_vec());
        backlog_payloads.push(protocol::encode(&b)?);
    }
    let backlog_topic = protocol::topic::readings(&protocol::GatewayId::parse("gw-backlog")?);
    let fresh_topic = protocol::topic::readings(&protocol::GatewayId::parse("gw-fresh")?);

    let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
    let fresh = |k: i64| {
        let ts = t0 + chrono::Duration::minutes(k);
        let b = batch(
            "gw-fresh",
            u64::try_from(k + 1).unwrap(),
            (0..fresh_meters)
                .map(|m| (m, ts, Decimal::new(2000 + k, 1)))
                .collect(),
        );
        (ts, protocol::encode(&b).unwrap())
    };
    let metrics = h.running.worker.metrics();
    let start = Instant::now();
    let client = h.client.clone();
    tokio::spawn(async move {
        for p in backlog_payloads {
            client
                .publish(backlog_topic.clone(), QoS::AtLeastOnce, false, p)
                .await
                .unwrap();
        }
    });
    // Fresh rounds every second; each is rated when every fresh meter's state reached it.
    let ids: Vec<sea_orm::Value> = fresh_ids.iter().map(|m| (*m).into()).collect();
    let list = (1..=ids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!("SELECT MIN(last_ts) AS m FROM rating_states WHERE meter_id IN ({list})");
    let mut pending: std::collections::VecDeque<(DateTime<Utc>, Instant)> =
        std::collections::VecDeque::new();
    let mut lags: Vec<f64> = Vec::new();
    let mut k = 0;
    let mut next_round = Instant::now();
    let mut backlog_done = None;
    loop {
        if Instant::now() >= next_round && backlog_done.is_none() {
            let (ts, payload) = fresh(k);
            h.client
                .publish(fresh_topic.clone(), QoS::AtLeastOnce, false, payload)
                .await?;
            pending.push_back((ts, Instant::now()));
            k += 1;
            next_round += Duration::from_secs(1);
        }
        let row = db
            .query_one(Statement::from_sql_and_values(
                db.get_database_backend(),
                &sql,
                ids.clone(),
            ))
            .await?;
        let min: Option<DateTime<Utc>> = row.and_then(|r| r.try_get("", "m").ok()).flatten();
        while let Some(&(ts, at)) = pending.front() {
            if min.is_some_and(|m| m >= ts) {
                lags.push(at.elapsed().as_secs_f64());
                pending.pop_front();
            } else {
                break;
            }
        }
        let m = metrics.snapshot();
        let expected = backlog_total + (k as u64) * fresh_meters as u64;
        if backlog_done.is_none() && m.readings_rated >= backlog_total {
            // Rated counts fresh readings too; the backlog is done once everything published
            // so far is rated.
            if m.readings_rated >= expected {
                backlog_done = Some(start.elapsed());
            }
        }
        if backlog_done.is_some() && pending.is_empty() {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("not done after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = start.elapsed();
    let worker = h.running.worker.clone();
    h.running.stop().await;
    let mismatches = store::ledger::verify_balances(db.conn()).await?;
    assert!(mismatches.is_empty(), "balances differ from their ledgers");
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| lags[((lags.len() - 1) as f64 * p).round() as usize];
    let done = backlog_done.unwrap_or(wall);
    println!(
        "backlog: {backlog_total} readings ({backlog_meters} meters x {per_meter}) of one gateway, \
         rated with the fresh ones after {:.2}s ({:.0} readings/s); broker {}",
        done.as_secs_f64(),
        (backlog_total + k as u64 * fresh_meters as u64) as f64 / done.as_secs_f64(),
        h.url
    );
    println!(
        "fresh: {k} rounds of {fresh_meters} meters, one a second; published → rated (all \
         meters of the round): max {:.3}s, p99 {:.3}s, median {:.3}s",
        pct(1.0),
        pct(0.99),
        pct(0.5)
    );
    phase_report(&worker, wall);
    Ok(())
}
