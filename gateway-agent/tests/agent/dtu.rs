//! The `dtu-server` transport: a fake DTU dials the agent, registers, mixes heartbeats into its
//! replies, reconnects; strangers are turned away. Once at the link level, once through the
//! whole agent and a private Mosquitto.

use std::net::SocketAddr;
use std::time::Duration;

use gateway_agent::dtu_server::DtuHub;
use gateway_agent::meter_read::{read_meter, read_relay, write_relay, ReadError};
use gateway_agent::modbus_link::{Endpoint, LinkError, ModbusLink};
use gateway_agent::simulator::{explicit_map, Simulator, SimulatorConfig, SimulatorHandle};
use gateway_agent::Agent;
use protocol::{AckStatus, AgentConfig, MeterModel, ReadingOutcome, RelayState};

use crate::fake_dtu::FakeDtu;
use crate::support::{command, free_port, Cloud, Mosquitto, Up, GW};

const IMEI: &str = "868000000000001";
const HEARTBEAT: [u8; 2] = [0xFE, 0xFE];

async fn sim() -> SimulatorHandle {
    let config = SimulatorConfig::with_meters(
        "127.0.0.1:0".parse().unwrap(),
        1,
        1,
        "3600".parse().unwrap(),
    );
    Simulator::start(config).await.unwrap()
}

fn config(data_dir: &std::path::Path, mqtt: &str, listen: SocketAddr) -> AgentConfig {
    AgentConfig::from_toml_str(&format!(
        r#"gateway_id = "{GW}"
data_dir = "{}"
status_interval = "300ms"
[mqtt]
url = "{mqtt}"
[[bus]]
name = "dtu-1"
transport = "dtu-server"
listen = "{listen}"
dtu_id = "{IMEI}"
registration = 'regex:^IMEI(\d{{15}})'
heartbeat = "hex:fefe"
poll_interval = "150ms"
timeout = "500ms"
retries = 1
[[bus.meter]]
id = "m-1"
slave = 1
model = "acrel-ddsy1352"
[[bus.meter]]
id = "m-x"
slave = 2
[bus.meter.registers]
energy_kwh = {{ function = "holding", address = 0, type = "u32", scale = "0.01" }}
relay = {{ read = {{ function = "coil", address = 0, open = 0, closed = 1 }}, write = {{ function = "coil", address = 0, open = 0, closed = 1 }} }}
"#,
        data_dir.display()
    ))
    .unwrap()
}

fn registration() -> Vec<u8> {
    format!("IMEI{IMEI}").into_bytes()
}

#[tokio::test]
async fn dtu_registers_polls_through_heartbeats_and_a_reconnect_replaces_it() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = config(dir.path(), "mqtt://127.0.0.1:1", listen);
    let hub = DtuHub::default();
    let slots = hub.configure(&config.bus);
    let mut link = ModbusLink::for_bus(&config.bus[0], &slots);
    let Endpoint::Dtu(slot) = link.endpoint().clone() else {
        panic!("not a DTU link")
    };
    let acrel = MeterModel::AcrelDdsy1352.register_map();

    // Before the DTU dials in, a read fails at once and says why.
    match read_meter(&mut link, 1, &acrel).await {
        Err(ReadError::Link(LinkError::Connect(why))) => {
            assert!(why.contains("has not connected"), "{why}");
        }
        other => panic!("{other:?}"),
    }

    let mut first = FakeDtu::connect(listen, &registration(), &HEARTBEAT, sim.addr()).await;
    assert!(slot.wait_connected(Duration::from_secs(5)).await);
    // Enough reads that every heartbeat placement of the fake DTU occurs several times.
    for _ in 0..6 {
        let (v, _) = read_meter(&mut link, 1, &acrel).await.unwrap();
        assert!(v.energy_kwh.unwrap() > rust_decimal::Decimal::ZERO);
        let (v, _) = read_meter(&mut link, 2, &explicit_map()).await.unwrap();
        assert_eq!(v.relay, Some(RelayState::Closed));
    }
    let map = explicit_map();
    let write = map.relay.as_ref().unwrap().write.as_ref().unwrap();
    write_relay(&mut link, 2, write, RelayState::Open)
        .await
        .unwrap();
    assert_eq!(
        read_relay(&mut link, 2, &map).await.unwrap(),
        Some(RelayState::Open)
    );
    assert_eq!(sim.relay(2), Some(RelayState::Open));

    // The DTU dials again (its 4G link dropped): the new connection replaces the old one.
    let second = FakeDtu::connect(listen, &registration(), &HEARTBEAT, sim.addr()).await;
    first.wait_closed(Duration::from_secs(5)).await;
    read_meter(&mut link, 1, &acrel).await.unwrap();
    assert!(second.requests.load(std::sync::atomic::Ordering::Relaxed) > 0);

    // A DTU nobody configured is turned away; the registered one keeps working.
    let mut stranger =
        FakeDtu::connect(listen, b"IMEI999999999999999", &HEARTBEAT, sim.addr()).await;
    stranger.wait_closed(Duration::from_secs(5)).await;
    read_meter(&mut link, 2, &map).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_publishes_readings_and_trips_a_relay_through_a_dtu() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut cloud = Cloud::connect(broker.port).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(Agent::run(
        config(dir.path(), &broker.url(), listen),
        async {
            let _ = stopped.await;
        },
    ));
    let _dtu = FakeDtu::connect(listen, &registration(), &HEARTBEAT, sim.addr()).await;

    let wait = Duration::from_secs(10);
    cloud
        .next("readings of both DTU meters", wait, |u| match u {
            Up::Readings(b)
                if b.readings.len() == 2
                    && b.readings
                        .iter()
                        .all(|r| matches!(r.outcome, ReadingOutcome::Values(_))) =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
    cloud
        .next("the DTU bus up in the status", wait, |u| match u {
            Up::Status(s) => s
                .buses
                .iter()
                .any(|b| b.name == "dtu-1" && b.ok && b.meters_ok == 2)
                .then_some(()),
            _ => None,
        })
        .await;
    cloud
        .send("commands", command("c-1", "m-x", 1, "trip"), false)
        .await;
    let ack = cloud.ack("c-1").await;
    assert_eq!(ack.status, AckStatus::Executed, "{ack:?}");
    assert_eq!(ack.relay, Some(RelayState::Open));
    assert_eq!(sim.relay(2), Some(RelayState::Open));
    let _ = stop.send(());
    agent.await.unwrap().unwrap();
}
