//! What each side sees in the golden messages, and the agent's configuration file rules.

use std::fs;
use std::path::Path;
use std::time::Duration;

use protocol::agent_config::AgentConfigError;
use protocol::gateway_config::{ConfigError, PacketPattern, Transport};
use protocol::{
    decode_command_ack, decode_gateway_config, decode_reading_batch, encode, AckStatus,
    AgentConfig, MeterId, MeterModel, ReadFailure, Reading, ReadingBatch, ReadingOutcome,
    ReadingValues, RelayState, TouKwh, V1,
};
use rust_decimal::Decimal;
use serde_json::Value;

fn golden(name: &str) -> String {
    fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name),
    )
    .unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn architecture_batch() -> ReadingBatch {
    ReadingBatch {
        v: V1,
        gateway: "gw-0001".parse().unwrap(),
        batch: 42,
        readings: vec![
            Reading {
                meter: MeterId::parse("m-101").unwrap(),
                ts: "2026-11-21T08:00:00Z".parse().unwrap(),
                outcome: ReadingOutcome::Values(ReadingValues {
                    energy_kwh: Some(dec("1234.56")),
                    tou_kwh: Some(TouKwh {
                        sharp: Some(dec("1.00")),
                        peak: Some(dec("500.10")),
                        flat: Some(dec("400.00")),
                        valley: Some(dec("333.46")),
                    }),
                    voltage_v: Some(dec("221.3")),
                    current_a: Some(dec("1.20")),
                    power_kw: Some(dec("0.260")),
                    relay: Some(RelayState::Closed),
                }),
            },
            Reading {
                meter: MeterId::parse("m-102").unwrap(),
                ts: "2026-11-21T08:00:01Z".parse().unwrap(),
                outcome: ReadingOutcome::Error(ReadFailure::Timeout),
            },
        ],
    }
}

#[test]
fn worker_reads_the_architecture_batch() {
    let batch = decode_reading_batch(golden("reading_batch-architecture.json").as_bytes()).unwrap();
    assert_eq!(batch, architecture_batch());
}

#[test]
fn agent_writes_the_architecture_batch() {
    let ours: Value = serde_json::from_slice(&encode(&architecture_batch()).unwrap()).unwrap();
    let golden: Value = serde_json::from_str(&golden("reading_batch-architecture.json")).unwrap();
    assert_eq!(ours, golden);
}

#[test]
fn unknown_fields_change_nothing() {
    let plain = decode_reading_batch(golden("reading_batch-architecture.json").as_bytes());
    let extra = decode_reading_batch(golden("reading_batch-unknown_fields.json").as_bytes());
    assert_eq!(plain.unwrap(), extra.unwrap());
}

#[test]
fn unverified_ack_has_no_relay() {
    let ack = decode_command_ack(golden("command_ack-relay_null.json").as_bytes()).unwrap();
    assert_eq!(ack.status, AckStatus::Executed);
    assert_eq!(ack.relay, None);
    assert_eq!(ack.detail, None);
}

#[test]
fn config_meters_resolve_to_register_maps() {
    let config =
        decode_gateway_config(golden("gateway_config-architecture.json").as_bytes()).unwrap();
    assert_eq!(config.version, 7);
    let bus = &config.bus[0];
    assert_eq!(bus.poll_interval().as_std(), Duration::from_secs(60));
    assert_eq!(bus.timeout().as_std(), Duration::from_millis(500));
    assert_eq!(
        bus.meter[0].register_map(),
        Some(MeterModel::AcrelDdsy1352.register_map())
    );
}

#[test]
fn architecture_toml_with_defaults() {
    let agent = AgentConfig::from_toml_str(&golden("agent-architecture.toml")).unwrap();
    assert_eq!(agent.gateway_id.as_str(), "gw-0001");
    assert_eq!(agent.client_id(), "gw-0001");
    assert_eq!(agent.status_interval().as_std(), Duration::from_secs(60));
    // Two meters every minute for a week is far below the floor.
    assert_eq!(agent.max_readings(), 100_000);
    let m102 = &agent.bus[0].meter[1];
    let map = m102.register_map().unwrap();
    assert_eq!(map.energy_kwh.unwrap().scale(), dec("0.01"));
    assert_eq!(
        agent.bus[0].meter[0].register_map(),
        Some(MeterModel::EastronSdm120.register_map())
    );
}

#[test]
fn full_toml_keeps_every_key() {
    let agent = AgentConfig::from_toml_str(&golden("agent-full.toml")).unwrap();
    assert_eq!(agent.client_id(), "gw-b2-box1");
    assert_eq!(agent.status_interval().as_std(), Duration::from_secs(30));
    assert_eq!(agent.max_readings(), 500_000);
    assert_eq!(
        agent.mqtt.ca_file.as_deref(),
        Some(Path::new("/etc/wattpay-agent/ca.pem"))
    );
    let dtu = &agent.bus[2];
    assert_eq!(dtu.transport, Transport::DtuServer);
    assert_eq!(
        dtu.heartbeat.as_ref().unwrap().hex_bytes(),
        Some(vec![0xFE, 0x01])
    );
    assert_eq!(
        dtu.registration.as_ref().unwrap().regex(),
        Some("^REG(?P<id>[0-9]{11})$")
    );
    assert_eq!(
        agent.bus[0].slave_switch_gap().as_std(),
        Duration::from_millis(50)
    );
}

fn toml_with_meter(meter: &str) -> String {
    format!(
        "gateway_id = \"gw-1\"\ndata_dir = \"/tmp/q\"\n[mqtt]\nurl = \"mqtt://localhost:1883\"\n\
         [[bus]]\nname = \"a\"\ntransport = \"rtu\"\ndevice = \"/dev/ttyS0\"\n[[bus.meter]]\n{meter}\n"
    )
}

#[test]
fn toml_breaking_the_rules_is_refused() {
    let both = toml_with_meter(
        "id = \"m1\"\nslave = 1\nmodel = \"chint-ddsu666\"\n\
         registers = { power_kw = { function = \"input\", address = 0, type = \"f32\" } }",
    );
    assert!(matches!(
        AgentConfig::from_toml_str(&both),
        Err(AgentConfigError::Config(ConfigError::ModelAndRegisters(_)))
    ));
    let neither = toml_with_meter("id = \"m1\"\nslave = 1");
    assert!(matches!(
        AgentConfig::from_toml_str(&neither),
        Err(AgentConfigError::Config(ConfigError::NoModelNorRegisters(
            _
        )))
    ));
    let too_big = toml_with_meter("id = \"m1\"\nslave = 300\nmodel = \"chint-ddsu666\"");
    assert!(matches!(
        AgentConfig::from_toml_str(&too_big),
        Err(AgentConfigError::Toml(_))
    ));
    let bad_id = toml_with_meter("id = \"m 1\"\nslave = 1\nmodel = \"chint-ddsu666\"");
    let err = AgentConfig::from_toml_str(&bad_id).unwrap_err();
    assert!(err.to_string().contains("meter id \"m 1\""), "{err}");
    let ok = toml_with_meter("id = \"m1\"\nslave = 1\nmodel = \"chint-ddsu666\"");
    let http = ok.replace("mqtt://", "http://");
    assert!(matches!(
        AgentConfig::from_toml_str(&http),
        Err(AgentConfigError::MqttUrl(_))
    ));
    let ok = AgentConfig::from_toml_str(&ok).unwrap();
    assert_eq!(ok.bus[0].baud(), 9600);
}

#[test]
fn packet_patterns() {
    assert!(PacketPattern::parse("hex:fe01").is_ok());
    for bad in ["hex:", "hex:f", "hex:zz", "regex:", "FE01", "plain:x"] {
        assert_eq!(
            PacketPattern::parse(bad),
            Err(ConfigError::BadPacketPattern(bad.to_owned()))
        );
    }
}
