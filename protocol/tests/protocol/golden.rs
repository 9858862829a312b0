//! Golden files: the JSON both sides of the MQTT contract must accept and produce.
//!
//! `tests/golden/<message>-<case>.json` must decode and re-encode to the same JSON value (object
//! keys named `future_*` are unknown fields: they must be accepted and are dropped; a null and an
//! absent optional field mean the same). `bad-<message>-<case>.json` must be refused with the
//! error listed in `REFUSED`. `agent-*.toml` are agent configuration files whose buses must
//! serialise as the matching `gateway_config-*.json`.

use std::fs;
use std::path::{Path, PathBuf};

use protocol::wire::{DecodeError, MAX_PAYLOAD_BYTES};
use protocol::{
    decode_command, decode_command_ack, decode_gateway_config, decode_gateway_status,
    decode_reading_batch, encode, ConfigError, GatewayConfig, V1,
};
use serde_json::Value;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn golden_files(prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| {
            name.starts_with(prefix) && Path::new(name).extension().is_some_and(|e| e == "json")
        })
        .map(|name| {
            let bytes = fs::read(golden_dir().join(&name)).unwrap();
            (name, bytes)
        })
        .collect();
    files.sort();
    files
}

fn read_golden(name: &str) -> String {
    fs::read_to_string(golden_dir().join(name)).unwrap()
}

/// Decodes with the decoder the file name's message part names, and encodes the result again.
fn decode_then_encode(name: &str, bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let message = name.trim_start_matches("bad-").split('-').next().unwrap();
    Ok(match message {
        "reading_batch" => encode(&decode_reading_batch(bytes)?),
        "command" => encode(&decode_command(bytes)?),
        "command_ack" => encode(&decode_command_ack(bytes)?),
        "gateway_status" => encode(&decode_gateway_status(bytes)?),
        "gateway_config" => encode(&decode_gateway_config(bytes)?),
        other => panic!("{name}: no message type {other:?}"),
    }
    .unwrap())
}

/// Drops null-valued and `future_*` keys, recursively: what "semantically equal" means here.
fn normalise(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, v)| !v.is_null() && !k.starts_with("future_"))
                .map(|(k, v)| (k, normalise(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalise).collect()),
        other => other,
    }
}

#[test]
fn every_golden_message_round_trips() {
    let files: Vec<_> = golden_files("")
        .into_iter()
        .filter(|(name, _)| !name.starts_with("bad-"))
        .collect();
    assert!(
        files.len() >= 20,
        "golden files went missing: {}",
        files.len()
    );
    for (name, bytes) in files {
        let encoded =
            decode_then_encode(&name, &bytes).unwrap_or_else(|e| panic!("{name} was refused: {e}"));
        let original: Value = serde_json::from_slice(&bytes).unwrap();
        let again: Value = serde_json::from_slice(&encoded).unwrap();
        assert_eq!(
            normalise(again),
            normalise(original),
            "{name} changed on the way"
        );
    }
}

fn invalid_saying(e: &DecodeError, text: &str) -> bool {
    matches!(e, DecodeError::Invalid { source, .. } if source.to_string().contains(text))
}

type Check = fn(&DecodeError) -> bool;

/// Every refused golden file and the error it must be refused with.
const REFUSED: &[(&str, Check)] = &[
    ("bad-reading_batch-truncated.json", |e| {
        matches!(e, DecodeError::Malformed(_))
    }),
    ("bad-reading_batch-values_and_error.json", |e| {
        invalid_saying(
            e,
            "reading of meter m-101 at 2026-11-21 08:00:00 UTC carries both values and `error`",
        )
    }),
    ("bad-reading_batch-version_2.json", |e| {
        matches!(e, DecodeError::UnsupportedVersion { found: 2 })
    }),
    ("bad-reading_batch-version_missing.json", |e| {
        matches!(e, DecodeError::MissingVersion)
    }),
    ("bad-reading_batch-float_decimal.json", |e| {
        invalid_saying(
            e,
            "invalid type: floating point `1234.56`, expected a string",
        )
    }),
    ("bad-reading_batch-float_tou.json", |e| {
        invalid_saying(e, "invalid type: floating point `500.1`, expected a string")
    }),
    ("bad-reading_batch-meter_id.json", |e| {
        invalid_saying(e, "meter id \"m 101/a\" does not match")
    }),
    ("bad-reading_batch-gateway_id.json", |e| {
        invalid_saying(e, "gateway id \"GW-0001\"")
    }),
    ("bad-reading_batch-local_time.json", |e| {
        invalid_saying(e, "premature end of input")
    }),
    ("bad-reading_batch-empty_error.json", |e| {
        invalid_saying(e, "`error` is empty")
    }),
    ("bad-reading_batch-relay_unknown.json", |e| {
        invalid_saying(e, "unknown variant `half`")
    }),
    ("bad-command-unknown_action.json", |e| {
        invalid_saying(e, "unknown variant `reboot`")
    }),
    ("bad-command-negative_seq.json", |e| {
        invalid_saying(e, "invalid value: integer `-1`")
    }),
    ("bad-command-version_string.json", |e| {
        matches!(e, DecodeError::MissingVersion)
    }),
    ("bad-command_ack-unknown_status.json", |e| {
        invalid_saying(e, "unknown variant `ok`")
    }),
    ("bad-reading_batch-array_form.json", |e| {
        matches!(e, DecodeError::NotAnObject)
    }),
    ("bad-gateway_status-not_an_object.json", |e| {
        matches!(e, DecodeError::NotAnObject)
    }),
    (
        "bad-gateway_config-duplicate_meter.json",
        |e| matches!(e, DecodeError::Config(ConfigError::DuplicateMeter(m)) if m.as_str() == "m-101"),
    ),
    ("bad-gateway_config-model_and_registers.json", |e| {
        matches!(e, DecodeError::Config(ConfigError::ModelAndRegisters(_)))
    }),
    ("bad-gateway_config-slave_0.json", |e| {
        matches!(
            e,
            DecodeError::Config(ConfigError::SlaveOutOfRange { slave: 0, .. })
        )
    }),
    ("bad-gateway_config-slave_248.json", |e| {
        matches!(
            e,
            DecodeError::Config(ConfigError::SlaveOutOfRange { slave: 248, .. })
        )
    }),
    ("bad-gateway_config-rtu_without_device.json", |e| {
        matches!(
            e,
            DecodeError::Config(ConfigError::MissingKey { key: "device", .. })
        )
    }),
    ("bad-gateway_config-dtu_server_without_listen.json", |e| {
        matches!(
            e,
            DecodeError::Config(ConfigError::MissingKey { key: "listen", .. })
        )
    }),
    ("bad-gateway_config-address_without_port.json", |e| {
        matches!(e, DecodeError::Config(ConfigError::BadAddress { .. }))
    }),
    ("bad-gateway_config-unknown_model.json", |e| {
        invalid_saying(e, "unknown variant `acrel-adl400`")
    }),
    ("bad-gateway_config-float_scale.json", |e| {
        invalid_saying(e, "invalid type: floating point `0.01`, expected a string")
    }),
    ("bad-gateway_config-coil_energy.json", |e| {
        matches!(e, DecodeError::Config(ConfigError::Registers { .. }))
            && e.to_string().contains("`energy_kwh` reads a Coil table")
    }),
    ("bad-gateway_config-relay_write_lengths.json", |e| {
        matches!(e, DecodeError::Config(ConfigError::Registers { .. }))
            && e.to_string().contains("the same number")
    }),
    ("bad-gateway_config-bad_duration.json", |e| {
        invalid_saying(e, "invalid type: integer `60`, expected a string")
    }),
];

#[test]
fn every_bad_golden_is_refused_with_its_error() {
    let files = golden_files("bad-");
    let mut names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let mut listed: Vec<&str> = REFUSED.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    listed.sort_unstable();
    assert_eq!(
        names, listed,
        "every bad golden file needs its expected error"
    );
    for (name, bytes) in &files {
        let check = REFUSED.iter().find(|(n, _)| n == name).unwrap().1;
        match decode_then_encode(name, bytes) {
            Ok(_) => panic!("{name} was accepted"),
            Err(e) => assert!(check(&e), "{name} refused with the wrong error: {e:?}"),
        }
    }
}

#[test]
fn oversized_payloads_are_refused_before_parsing() {
    let mut payload = br#"{"v":1,"gateway":"gw-0001","batch":1,"readings":[],"pad":""#.to_vec();
    payload.resize(MAX_PAYLOAD_BYTES + 1, b' ');
    match decode_reading_batch(&payload) {
        Err(DecodeError::TooLarge { size, max }) => {
            assert_eq!((size, max), (MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

/// The agent's TOML buses, published as a `GatewayConfig`, must be the golden JSON.
fn assert_toml_matches_json(toml_name: &str, json_name: &str, version: u64) {
    let agent = protocol::AgentConfig::from_toml_str(&read_golden(toml_name)).unwrap();
    let config = GatewayConfig {
        v: V1,
        gateway: agent.gateway_id.clone(),
        version,
        bus: agent.bus.clone(),
    };
    let ours: Value = serde_json::from_slice(&encode(&config).unwrap()).unwrap();
    let golden: Value = serde_json::from_str(&read_golden(json_name)).unwrap();
    assert_eq!(ours, golden, "{toml_name} vs {json_name}");
}

#[test]
fn architecture_toml_is_the_gateway_config_json() {
    assert_toml_matches_json(
        "agent-architecture.toml",
        "gateway_config-agent_architecture.json",
        1,
    );
}

#[test]
fn full_toml_is_the_explicit_map_json() {
    assert_toml_matches_json("agent-full.toml", "gateway_config-explicit_map.json", 12);
}
