//! Fairness under backlog: a gateway that was offline flushes a day of queued readings while
//! another gateway's fresh readings keep coming; every fresh reading is rated within 2 s of
//! being published, through a real broker and the running worker (ingestion stores what
//! waits in large flushes; rating takes meters first in, first out in bounded passes, at most
//! half of a pass for one gateway).

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use domain::{Money, TariffVersion};
use protocol::{Reading, ReadingBatch, ReadingOutcome, ReadingValues, V1};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use rust_decimal::Decimal;
use store::account::NewAccount;
use store::gateway::NewGateway;
use store::meter::NewMeter;
use store::testing::{seed_org, SeededOrg, TestDb};
use store::{MeterId, TariffId};

use super::helpers::settings;

const BACKLOG_METERS: usize = 24;
/// A day of 15-minute readings.
const PER_METER: i64 = 96;
const FRESH_METERS: usize = 5;
const FRESH_EVERY: Duration = Duration::from_millis(250);
const BOUND: Duration = Duration::from_secs(2);

async fn seed_gateway(
    db: &TestDb,
    org: &SeededOrg,
    tariff: TariffId,
    wire: &str,
    meters: usize,
) -> Vec<(MeterId, store::AccountId)> {
    let c = db.conn();
    let gw = store::gateway::create(
        c,
        org.org,
        NewGateway {
            site_id: org.site,
            gateway_id: wire.to_owned(),
            name: wire.to_owned(),
            mqtt_password_hash: None,
        },
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    for m in 0..meters {
        let unit = store::unit::create(
            c,
            org.org,
            org.building,
            &format!("{wire}-{m}"),
            store::UnitKind::Flat,
        )
        .await
        .unwrap();
        let account = store::account::open_account(
            c,
            org.org,
            NewAccount {
                unit_id: unit.id,
                tenant_id: None,
                tariff_id: Some(tariff),
                initial_balance: Money::from_fen(100_000),
                created_by: None,
            },
        )
        .await
        .unwrap();
        let meter = store::meter::create(
            c,
            org.org,
            NewMeter {
                gateway_id: gw.id,
                unit_id: Some(unit.id),
                bus: "rs485-1".into(),
                slave: i32::try_from(m + 1).unwrap(),
                wire_id: format!("m-{m}"),
                model: None,
                register_map: None,
                ct_ratio: Decimal::ONE,
                max_power_kw: Decimal::from(60),
            },
        )
        .await
        .unwrap();
        out.push((meter.id, account.id));
    }
    out
}

fn payload(wire: &str, no: u64, readings: &[(usize, DateTime<Utc>, Decimal)]) -> Vec<u8> {
    protocol::encode(&ReadingBatch {
        v: V1,
        gateway: protocol::GatewayId::parse(wire).unwrap(),
        batch: no,
        readings: readings
            .iter()
            .map(|&(m, ts, kwh)| Reading {
                meter: protocol::MeterId::parse(&format!("m-{m}")).unwrap(),
                ts,
                outcome: ReadingOutcome::Values(ReadingValues {
                    energy_kwh: Some(kwh),
                    ..ReadingValues::default()
                }),
            })
            .collect(),
    })
    .unwrap()
}

/// The oldest rating position among `meters` (all of them are rated up to there).
async fn rated_up_to(
    db: &TestDb,
    org: &SeededOrg,
    meters: &[(MeterId, store::AccountId)],
) -> Option<DateTime<Utc>> {
    let mut min: Option<DateTime<Utc>> = None;
    for &(m, _) in meters {
        let at = store::rating_state::last_rated(db.conn(), org.org, m)
            .await
            .unwrap()?;
        min = Some(min.map_or(at, |x| x.min(at)));
    }
    min
}

async fn fresh_readings_keep_flowing(db: TestDb, broker_url: Option<String>) {
    let org = seed_org(&db, "fair", Money::ZERO).await.unwrap();
    let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let tariff = store::tariff::create(db.conn(), org.org, "flat")
        .await
        .unwrap();
    store::tariff::add_version(
        db.conn(),
        org.org,
        tariff.id,
        from,
        &serde_json::to_value(TariffVersion::flat(from, Decimal::ONE)).unwrap(),
    )
    .await
    .unwrap();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let (backlog_gw, fresh_gw) = (format!("gw-backlog{suffix}"), format!("gw-fresh{suffix}"));
    let backlog = seed_gateway(&db, &org, tariff.id, &backlog_gw, BACKLOG_METERS).await;
    let fresh = seed_gateway(&db, &org, tariff.id, &fresh_gw, FRESH_METERS).await;

    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.embedded_broker_port = 0;
    s.mqtt_url.clone_from(&broker_url);
    if broker_url.is_some() {
        s.mqtt_version = 5;
    }
    let running =
        worker::run::start_with(s, db.conn().clone(), store::live::LiveCache::in_process())
            .unwrap();
    let url = broker_url.unwrap_or_else(|| running.broker.as_ref().unwrap().url());
    let (host, port) = worker::mqtt::parse_url(&url).unwrap();
    let mut o = MqttOptions::new(format!("fair-{suffix}"), host, port);
    o.set_max_packet_size(1 << 20, 1 << 20).set_inflight(100);
    let (client, mut el) = AsyncClient::new(o, 1_000);
    tokio::spawn(async move { while el.poll().await.is_ok() {} });
    let fresh_topic = protocol::topic::readings(&protocol::GatewayId::parse(&fresh_gw).unwrap());
    let backlog_topic =
        protocol::topic::readings(&protocol::GatewayId::parse(&backlog_gw).unwrap());

    // Today's fresh readings, one round per FRESH_EVERY; round 0 is the baseline, published
    // until the worker has subscribed and rated it.
    let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
    let round = |k: i64| {
        let ts = t0 + chrono::Duration::minutes(k);
        let readings: Vec<_> = (0..FRESH_METERS)
            .map(|m| (m, ts, Decimal::new(5_000 + k, 1)))
            .collect();
        (
            ts,
            payload(&fresh_gw, u64::try_from(k).unwrap() + 1, &readings),
        )
    };
    let (ts0, p0) = round(0);
    for attempt in 0.. {
        assert!(
            attempt < 100,
            "the worker never rated the fresh gateway's readings"
        );
        client
            .publish(fresh_topic.clone(), QoS::AtLeastOnce, false, p0.clone())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if rated_up_to(&db, &org, &fresh).await >= Some(ts0) {
            break;
        }
    }

    // Yesterday's backlog of the other gateway, in the agent's batches of at most 200.
    let day = t0 - chrono::Duration::days(1);
    let mut queued = Vec::new();
    for k in 0..PER_METER {
        for m in 0..BACKLOG_METERS {
            queued.push((
                m,
                day + chrono::Duration::minutes(15 * k),
                Decimal::new(1_000 + 5 * k, 1),
            ));
        }
    }
    let started = Instant::now();
    for (i, chunk) in queued.chunks(200).enumerate() {
        client
            .publish(
                backlog_topic.clone(),
                QoS::AtLeastOnce,
                false,
                payload(&backlog_gw, i as u64 + 1, chunk),
            )
            .await
            .unwrap();
    }
    let last_backlog_ts = day + chrono::Duration::minutes(15 * (PER_METER - 1));

    let mut lags = Vec::new();
    let mut pending: std::collections::VecDeque<(DateTime<Utc>, Instant)> =
        std::collections::VecDeque::new();
    let mut next = Instant::now();
    let mut k = 1;
    let mut backlog_done_after = None;
    loop {
        let now = Instant::now();
        if now >= next && (backlog_done_after.is_none() || k <= 8) {
            let (ts, p) = round(k);
            client
                .publish(fresh_topic.clone(), QoS::AtLeastOnce, false, p)
                .await
                .unwrap();
            pending.push_back((ts, Instant::now()));
            k += 1;
            next += FRESH_EVERY;
        }
        let rated = rated_up_to(&db, &org, &fresh).await;
        while let Some(&(ts, at)) = pending.front() {
            if rated >= Some(ts) {
                lags.push(at.elapsed());
                pending.pop_front();
            } else {
                // A round still waiting counts as late as soon as it is.
                assert!(
                    at.elapsed() <= BOUND,
                    "{}: fresh reading at {ts} not rated {:?} after publishing (backlog done: {:?})",
                    db.backend(),
                    at.elapsed(),
                    backlog_done_after
                );
                break;
            }
        }
        if backlog_done_after.is_none()
            && rated_up_to(&db, &org, &backlog).await >= Some(last_backlog_ts)
        {
            backlog_done_after = Some(started.elapsed());
        }
        if backlog_done_after.is_some() && k > 8 && pending.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{}: the backlog was not rated in 2 minutes",
            db.backend()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let max = lags.iter().max().copied().unwrap_or_default();
    eprintln!(
        "{}: backlog of {} readings rated after {:?}; {} fresh rounds, slowest rated {:?} after publishing",
        db.backend(),
        queued.len(),
        backlog_done_after.unwrap(),
        lags.len(),
        max
    );
    for (phase, secs) in running.worker.metrics().phase_seconds() {
        eprintln!("  {phase}: {secs:.3}s");
    }
    eprintln!("  {:?}", running.worker.metrics().snapshot());
    assert!(max <= BOUND, "{}: {max:?}", db.backend());
    running.stop().await;

    // The whole day was charged once: 95 rises of 0.5 kWh at ¥1.00 per backlog account.
    for &(_, account) in &backlog {
        assert_eq!(
            store::ledger::balance_of(db.conn(), org.org, account)
                .await
                .unwrap(),
            Money::from_fen(100_000 - 4_750),
            "{}",
            db.backend()
        );
    }
    let mismatches = store::ledger::verify_balances(db.conn()).await.unwrap();
    assert!(mismatches.is_empty(), "{}: {mismatches:?}", db.backend());
}

/// One test for every backend and broker, run one after the other: the bound is about the
/// worker's scheduling, not about tests competing for the CPU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_flush_does_not_hold_up_fresh_readings() {
    for db in store::testing::backends().await {
        fresh_readings_keep_flowing(db, None).await;
    }
    match std::env::var("WATTPAY_TEST_MQTT_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let db = store::testing::TestDb::sqlite().await.unwrap();
            fresh_readings_keep_flowing(db, Some(url)).await;
        }
        _ => assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but WATTPAY_TEST_MQTT_URL is unset"
        ),
    }
}
