//! The MQTT contract, version 1, between the worker (cloud) and the gateway agents (buildings).
//!
//! Topics ([`topic`]), the five messages ([`ReadingBatch`], [`Command`], [`CommandAck`],
//! [`GatewayStatus`], [`GatewayConfig`]) and the gateway configuration they share with the agent's
//! TOML file ([`gateway_config`], [`register_map`], [`preset`], [`agent_config`]). Both sides
//! depend on this crate, so they cannot drift apart; the golden files in `tests/golden/` pin the
//! JSON itself.
//!
//! Rules kept everywhere: every decimal is a string (a number is refused); timestamps are RFC 3339
//! UTC; unknown fields are ignored; `v` is 1 and [`wire::decode`] refuses any other version with a
//! typed error; payloads are size-checked before parsing. No database, web or I/O code here.

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod agent_config;
pub mod command;
pub mod decimal;
pub mod duration;
pub mod gateway_config;
pub mod id;
pub mod preset;
pub mod reading;
pub mod register_map;
pub mod register_value;
pub mod status;
pub mod topic;
pub mod wire;

pub use agent_config::AgentConfig;
pub use command::{AckStatus, Action, Command, CommandAck};
pub use duration::ConfigDuration;
pub use gateway_config::{BusConfig, ConfigError, GatewayConfig, MeterConfig, Transport};
pub use id::{CommandId, GatewayId, IdError, MeterId};
pub use preset::MeterModel;
pub use reading::{
    ReadFailure, Reading, ReadingBatch, ReadingOutcome, ReadingValues, RelayState, TouKwh,
};
pub use register_map::RegisterMap;
pub use status::{BusStatus, GatewayStatus};
pub use topic::{Topic, TopicKind};
pub use wire::{
    decode_command, decode_command_ack, decode_gateway_config, decode_gateway_status,
    decode_reading_batch, encode, DecodeError, EncodeError, V1,
};
