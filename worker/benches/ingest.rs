//! End-to-end ingestion benchmark: readings for N meters published through a real broker are
//! stored, rated, charged, and reflected in balances and the live cache by a running worker;
//! in the same run the same readings are loaded with PostgreSQL `COPY` into an identical table,
//! and the ratio is reported.
//!
//! ```text
//! WATTPAY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//! WATTPAY_BENCH_MQTT_URL=mqtt://127.0.0.1:1883 BENCH_METERS=10000 BENCH_ROUNDS=10 \
//!   cargo bench -p worker --bench ingest
//! ```
//! Without `WATTPAY_BENCH_MQTT_URL` the embedded broker is used.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use domain::{Money, TariffVersion};
use protocol::{Reading, ReadingBatch, ReadingOutcome, ReadingValues, V1};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use store::account::NewAccount;
use store::gateway::NewGateway;
use store::meter::NewMeter;

const METERS_PER_GATEWAY: usize = 100;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let meters = env_usize("BENCH_METERS", 2_000);
    let rounds = env_usize("BENCH_ROUNDS", 10);
    let server = std::env::var("WATTPAY_TEST_DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set WATTPAY_TEST_DATABASE_URL to a PostgreSQL server"))?;
    let db = store::testing::TestDb::postgres(&server).await?;
    let t = Instant::now();
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
    let gateways = meters.div_ceil(METERS_PER_GATEWAY);
    let mut wire_gateways = Vec::new();
    let txn = db.begin().await?;
    for g in 0..gateways {
        let wire = format!("gw-bench{g}");
        let gw = store::gateway::create(
            &txn,
            org.org,
            NewGateway {
                site_id: org.site,
                gateway_id: wire.clone(),
                name: wire.clone(),
                mqtt_password_hash: None,
            },
        )
        .await?;
        for m in 0..METERS_PER_GATEWAY.min(meters - g * METERS_PER_GATEWAY) {
            let unit = store::unit::create(
                &txn,
                org.org,
                org.building,
                &format!("{g}-{m}"),
                store::UnitKind::Flat,
            )
            .await?;
            store::account::open_in_txn(
                &txn,
                org.org,
                NewAccount {
                    unit_id: unit.id,
                    tenant_id: None,
                    tariff_id: Some(tariff.id),
                    initial_balance: Money::from_fen(1_000_000),
                    created_by: None,
                },
            )
            .await?;
            store::meter::create(
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
        }
        wire_gateways.push(wire);
    }
    txn.commit().await?;
    eprintln!(
        "seeded {meters} meters on {gateways} gateways in {:.1?}",
        t.elapsed()
    );

    let dir = tempfile::tempdir()?;
    let settings = worker::Settings {
        data_dir: dir.path().to_owned(),
        mqtt_url: std::env::var("WATTPAY_BENCH_MQTT_URL").ok(),
        mqtt_version: if std::env::var("WATTPAY_BENCH_MQTT_URL").is_ok() {
            5
        } else {
            4
        },
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

    let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
    let mut payloads = Vec::new();
    let mut copy_rows = String::new();
    for r in 0..rounds {
        let ts = t0 + chrono::Duration::minutes(15 * i64::try_from(r)?);
        for (g, wire) in wire_gateways.iter().enumerate() {
            let n = METERS_PER_GATEWAY.min(meters - g * METERS_PER_GATEWAY);
            let kwh = Decimal::new(1000 + 5 * i64::try_from(r)?, 1);
            let batch = ReadingBatch {
                v: V1,
                gateway: protocol::GatewayId::parse(wire)?,
                batch: u64::try_from(r)?,
                readings: (0..n)
                    .map(|m| Reading {
                        meter: protocol::MeterId::parse(&format!("m-{m}")).unwrap(),
                        ts,
                        outcome: ReadingOutcome::Values(ReadingValues {
                            energy_kwh: Some(kwh),
                            ..Default::default()
                        }),
                    })
                    .collect(),
            };
            for m in 0..n {
                let _ = writeln!(
                    copy_rows,
                    "{},{g}-{m},{},{},{}",
                    org.org,
                    ts.to_rfc3339(),
                    100_000 + 500 * r,
                    ts.to_rfc3339()
                );
            }
            payloads.push((
                protocol::topic::readings(&batch.gateway),
                protocol::encode(&batch)?,
            ));
        }
    }
    let total = (meters * rounds) as u64;
    let start = Instant::now();
    for (topic, payload) in payloads {
        client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await?;
    }
    let published = start.elapsed();
    let metrics = running.worker.metrics();
    let mut stored_at = None;
    loop {
        let m = metrics.snapshot();
        if stored_at.is_none() && m.readings_stored >= total {
            stored_at = Some(start.elapsed());
        }
        if m.readings_rated >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rated = start.elapsed();
    let m = metrics.snapshot();
    running.stop().await;
    let mismatches = store::ledger::verify_balances(db.conn()).await?;
    assert!(mismatches.is_empty(), "balances differ from their ledgers");

    // The same readings by COPY into an identical table.
    db.execute(Statement::from_string(
        db.get_database_backend(),
        "CREATE TABLE bench_copy (LIKE readings INCLUDING DEFAULTS)",
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
        "readings: {total} ({meters} meters x {rounds} rounds, {gateways} gateways, broker {url})"
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
        "where the time goes: storing {:.0} readings/s alone; {} charges posted; rating per meter \
         takes a row lock, the rating state, a ledger posting and a usage upsert",
        total as f64 / stored_at.unwrap_or(rated).as_secs_f64(),
        m.charges_posted
    );
    Ok(())
}
