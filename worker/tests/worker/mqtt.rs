//! The MQTT path: readings published by a gateway reach the ledger and the live cache through
//! a real broker (the embedded one always, Mosquitto when `WATTPAY_TEST_MQTT_URL` is set), and
//! a trip command goes out and its ack comes back. The test plays the agent.

use std::time::Duration;

use domain::Money;
use protocol::{AckStatus, Action, RelayState};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use store::live::LiveSnapshot;
use tokio::sync::{broadcast, mpsc};

use super::helpers::{settings, World};

/// An agent's MQTT client: publishes uplink, forwards downlink commands.
async fn agent(
    url: &str,
    gateway: &str,
) -> (AsyncClient, mpsc::UnboundedReceiver<protocol::Command>) {
    let (host, port) = worker::mqtt::parse_url(url).unwrap();
    let mut o = MqttOptions::new(
        format!("agent-{}", uuid::Uuid::new_v4().simple()),
        host,
        port,
    );
    o.set_keep_alive(Duration::from_secs(10));
    let (client, mut el) = AsyncClient::new(o, 100);
    let (tx, rx) = mpsc::unbounded_channel();
    let filter = protocol::topic::agent_filter(&protocol::GatewayId::parse(gateway).unwrap());
    let (subscribed_tx, mut subscribed) = mpsc::unbounded_channel();
    let sub_client = client.clone();
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    sub_client
                        .subscribe(filter.clone(), QoS::AtLeastOnce)
                        .await
                        .unwrap();
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = subscribed_tx.send(());
                }
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic.ends_with("/down/commands") => {
                    let _ = tx.send(protocol::decode_command(&p.payload).unwrap());
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), subscribed.recv())
        .await
        .unwrap()
        .unwrap();
    (client, rx)
}

async fn until(
    changes: &mut broadcast::Receiver<LiveSnapshot>,
    what: impl Fn(&LiveSnapshot) -> bool,
) -> LiveSnapshot {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match changes.recv().await {
                Ok(s) if what(&s) => return s,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("the live snapshot did not change in time")
}

async fn readings_trip_and_ack(broker_url: Option<String>) {
    let db = store::testing::TestDb::sqlite().await.unwrap();
    let w = World::new(db, Money::from_fen(500)).await;
    let mut s = settings(w.dir.path());
    s.embedded_broker_port = 0;
    s.mqtt_url.clone_from(&broker_url);
    let live = store::live::LiveCache::in_process();
    let mut changes = live.subscribe();
    let running = worker::run::start_with(s, w.db.conn().clone(), live).unwrap();
    let url = broker_url.unwrap_or_else(|| running.broker.as_ref().unwrap().url());
    let (client, mut commands) = agent(&url, &w.gateway).await;
    let gw = protocol::GatewayId::parse(&w.gateway).unwrap();

    // The worker may still be subscribing: publish until the first reading is rated.
    let baseline = protocol::encode(&w.batch(1, &[(0, "100.00")])).unwrap();
    let rise = protocol::encode(&w.batch(2, &[(60, "110.00")])).unwrap();
    for attempt in 0.. {
        assert!(attempt < 40, "the worker never rated the readings");
        client
            .publish(
                protocol::topic::readings(&gw),
                QoS::AtLeastOnce,
                false,
                baseline.clone(),
            )
            .await
            .unwrap();
        client
            .publish(
                protocol::topic::readings(&gw),
                QoS::AtLeastOnce,
                false,
                rise.clone(),
            )
            .await
            .unwrap();
        let seen = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                if let Ok(s) = changes.recv().await {
                    if s.account_id == w.account.id && s.balance < Money::from_fen(500) {
                        return s;
                    }
                }
            }
        })
        .await;
        if let Ok(snapshot) = seen {
            assert_eq!(snapshot.balance, Money::from_fen(-500));
            break;
        }
    }
    // ¥5 − 10 kWh × ¥1 = −¥5: the alarm and the trip go out.
    let mut trip = None;
    while trip.is_none() {
        let c = tokio::time::timeout(Duration::from_secs(20), commands.recv())
            .await
            .unwrap()
            .unwrap();
        if c.action == Action::Trip {
            trip = Some(c);
        }
    }
    let trip = trip.unwrap();
    let ack = World::ack(&trip, AckStatus::Executed, Some(RelayState::Open));
    client
        .publish(
            protocol::topic::acks(&gw),
            QoS::AtLeastOnce,
            false,
            protocol::encode(&ack).unwrap(),
        )
        .await
        .unwrap();
    let snap = until(&mut changes, |s| {
        s.account_id == w.account.id && s.relay.as_deref() == Some("open")
    })
    .await;
    assert_eq!(snap.cc_state, "tripped");
    // Exactly one charge: redelivered batches charged nothing more.
    assert_eq!(w.balance().await, Money::from_fen(-500));
    w.assert_ledger_balanced().await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_embedded_broker() {
    readings_trip_and_ack(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_mosquitto() {
    match std::env::var("WATTPAY_TEST_MQTT_URL") {
        Ok(url) if !url.trim().is_empty() => readings_trip_and_ack(Some(url)).await,
        _ => assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but WATTPAY_TEST_MQTT_URL is unset"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_jobs_of_other_crates_run_under_a_lease() {
    let db = store::testing::TestDb::sqlite().await.unwrap();
    let w = World::new(db, Money::from_fen(500)).await;
    let mut s = settings(w.dir.path());
    s.embedded_broker_port = 0;
    let (tx, mut ran) = mpsc::unbounded_channel();
    let job = worker::run::ScheduledJob {
        name: "payments.poll".into(),
        every: Duration::from_secs(60),
        job: std::sync::Arc::new(move |_db, now| {
            let tx = tx.clone();
            Box::pin(async move {
                tx.send(now).unwrap();
                Ok(())
            })
        }),
    };
    let running = worker::run::start_with_jobs(
        s,
        w.db.conn().clone(),
        store::live::LiveCache::in_process(),
        vec![job],
    )
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), ran.recv())
        .await
        .unwrap()
        .unwrap();
    running.stop().await;
}
