//! Polling the simulator through the agent's Modbus link: block reads, error readings,
//! relay writes with read-back, retries through dropped replies.

use std::num::NonZeroU32;
use std::time::Duration;

use gateway_agent::meter_read::{read_meter, read_relay, write_relay, ReadError};
use gateway_agent::modbus_link::{Endpoint, LinkError, LinkSettings, ModbusLink};
use gateway_agent::simulator::{explicit_map, Simulator, SimulatorConfig};
use protocol::{MeterModel, ReadFailure, RelayState};
use rust_decimal::Decimal;

fn link(addr: std::net::SocketAddr, retries: u32) -> ModbusLink {
    ModbusLink::new(
        Endpoint::Tcp(addr.to_string()),
        LinkSettings {
            timeout: Duration::from_millis(200),
            retries,
            request_gap: Duration::ZERO,
            slave_switch_gap: Duration::from_millis(5),
        },
    )
}

async fn sim(acrel: u8, explicit: u8, load_kw: &str) -> gateway_agent::simulator::SimulatorHandle {
    let config = SimulatorConfig::with_meters(
        "127.0.0.1:0".parse().unwrap(),
        acrel,
        explicit,
        load_kw.parse().unwrap(),
    );
    Simulator::start(config).await.unwrap()
}

#[tokio::test]
async fn acrel_meter_is_read_in_one_request_and_energy_grows() {
    // 3600 kW: 1 kWh per second, so growth shows within a test.
    let sim = sim(1, 0, "3600").await;
    let mut link = link(sim.addr(), 0);
    let map = MeterModel::AcrelDdsy1352.register_map();
    let before = sim.requests();
    let (first, raw) = read_meter(&mut link, 1, &map).await.unwrap();
    assert_eq!(
        sim.requests() - before,
        1,
        "all ten registers in one block read"
    );
    assert_eq!(raw.len(), 1);
    let e1 = first.energy_kwh.unwrap();
    assert_eq!(first.tou_kwh.unwrap().flat, Some(e1));
    let e2 = gateway_agent_wait_energy_above(&mut link, &map, e1).await;
    assert!(e2 > e1);
    // The agent reads what the meter holds, to the register's 0.01 kWh.
    let truth = sim.energy_kwh(1).unwrap();
    assert!(
        truth >= e2 && truth - e2 < Decimal::new(5, 0),
        "{truth} vs {e2}"
    );
}

async fn gateway_agent_wait_energy_above(
    link: &mut ModbusLink,
    map: &protocol::RegisterMap,
    e: Decimal,
) -> Decimal {
    let end = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let (v, _) = read_meter(link, 1, map).await.unwrap();
        let now = v.energy_kwh.unwrap();
        if now > e {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "energy never grew above {e}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn explicit_map_relay_trips_with_read_back_and_energy_stops() {
    let sim = sim(0, 1, "3600").await;
    let mut link = link(sim.addr(), 0);
    let map = explicit_map();
    let (v, _) = read_meter(&mut link, 1, &map).await.unwrap();
    assert_eq!(v.relay, Some(RelayState::Closed));
    assert_eq!(v.voltage_v.unwrap().to_string(), "230");
    assert_eq!(v.power_kw.unwrap().to_string(), "3600");
    let write = map.relay.as_ref().unwrap().write.as_ref().unwrap();
    write_relay(&mut link, 1, write, RelayState::Open)
        .await
        .unwrap();
    assert_eq!(
        read_relay(&mut link, 1, &map).await.unwrap(),
        Some(RelayState::Open)
    );
    assert_eq!(sim.relay(1), Some(RelayState::Open));
    assert_eq!(sim.relay_writes(1), 1);
    let stopped = sim.energy_kwh(1).unwrap();
    let (v, _) = read_meter(&mut link, 1, &map).await.unwrap();
    assert_eq!(v.power_kw.unwrap(), Decimal::ZERO);
    assert_eq!(sim.energy_kwh(1).unwrap(), stopped, "no energy while open");
}

#[tokio::test]
async fn acrel_relay_write_is_two_registers() {
    let sim = sim(1, 0, "1").await;
    let mut link = link(sim.addr(), 0);
    let map = MeterModel::AcrelDdsy1352.register_map();
    let write = map.relay.as_ref().unwrap().write.as_ref().unwrap();
    write_relay(&mut link, 1, write, RelayState::Open)
        .await
        .unwrap();
    assert_eq!(sim.relay(1), Some(RelayState::Open));
    write_relay(&mut link, 1, write, RelayState::Closed)
        .await
        .unwrap();
    assert_eq!(sim.relay(1), Some(RelayState::Closed));
    // No read-back register in the preset: nothing is made up.
    assert_eq!(read_relay(&mut link, 1, &map).await.unwrap(), None);
}

#[tokio::test]
async fn silent_meter_is_a_timeout_and_the_next_meter_still_answers() {
    let sim = sim(2, 0, "1").await;
    sim.set_silent(1, true);
    let mut link = link(sim.addr(), 1);
    let map = MeterModel::AcrelDdsy1352.register_map();
    let before = sim.requests();
    let err = read_meter(&mut link, 1, &map).await.unwrap_err();
    assert_eq!(err.reading_error(), ReadFailure::Timeout);
    assert_eq!(sim.requests() - before, 2, "one retry after the timeout");
    read_meter(&mut link, 2, &map).await.unwrap();
}

#[tokio::test]
async fn wrong_model_is_an_exception_and_not_retried() {
    let sim = sim(1, 0, "1").await;
    let mut link = link(sim.addr(), 3);
    let before = sim.requests();
    let err = read_meter(&mut link, 1, &MeterModel::EastronSdm120.register_map())
        .await
        .unwrap_err();
    assert_eq!(err, ReadError::Link(LinkError::Exception(2)));
    assert_eq!(err.reading_error().to_string(), "exception:2");
    assert_eq!(sim.requests() - before, 1);
}

#[tokio::test]
async fn retries_ride_over_dropped_replies() {
    let sim = sim(1, 0, "1").await;
    sim.set_drop_every(NonZeroU32::new(2));
    let mut link = link(sim.addr(), 1);
    let map = MeterModel::AcrelDdsy1352.register_map();
    for _ in 0..4 {
        read_meter(&mut link, 1, &map).await.unwrap();
    }
}

#[tokio::test]
async fn slow_replies_past_the_timeout_are_timeouts() {
    let sim = sim(1, 0, "1").await;
    sim.set_reply_delay(Duration::from_millis(400));
    let mut link = link(sim.addr(), 0);
    let map = MeterModel::AcrelDdsy1352.register_map();
    let err = read_meter(&mut link, 1, &map).await.unwrap_err();
    assert_eq!(err.reading_error(), ReadFailure::Timeout);
    sim.set_reply_delay(Duration::ZERO);
    // The late reply is not mistaken for the next answer: a fresh connection is used.
    read_meter(&mut link, 1, &map).await.unwrap();
}

#[tokio::test]
async fn simulator_state_file_continues_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        SimulatorConfig::with_meters("127.0.0.1:0".parse().unwrap(), 0, 1, "1".parse().unwrap());
    config.state_file = Some(dir.path().join("sim.json"));
    let sim = Simulator::start(config.clone()).await.unwrap();
    let mut l = link(sim.addr(), 0);
    let map = explicit_map();
    let write = map.relay.as_ref().unwrap().write.as_ref().unwrap();
    write_relay(&mut l, 1, write, RelayState::Open)
        .await
        .unwrap();
    let energy = sim.energy_kwh(1).unwrap();
    sim.shutdown().await;
    let sim = Simulator::start(config).await.unwrap();
    assert_eq!(sim.relay(1), Some(RelayState::Open));
    assert_eq!(sim.energy_kwh(1), Some(energy));
}
