//! Encoding and decoding of MQTT payloads, with the checks every receiver needs.
//!
//! Any payload may be large or malformed, so decoding never trusts it: the size is checked
//! before parsing, the contract version before the shape, and the message's own rules (such as
//! a gateway config's validation) after. Each failure is a distinct [`DecodeError`] variant so a
//! receiver can count and log it and stay connected.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::command::{Command, CommandAck};
use crate::gateway_config::{ConfigError, GatewayConfig};
use crate::reading::ReadingBatch;
use crate::status::GatewayStatus;

/// The contract version this crate speaks, the `v` of every message.
pub const VERSION: u64 = 1;

/// Largest payload accepted or produced, in bytes. Receivers set their MQTT client's maximum
/// incoming packet size a little above it; the agent keeps reading batches below it.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// The `v` field: serialises as `1` and deserialises only from `1`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct V1;

impl Serialize for V1 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(VERSION)
    }
}

impl<'de> Deserialize<'de> for V1 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = u64::deserialize(deserializer)?;
        if v == VERSION {
            Ok(Self)
        } else {
            Err(serde::de::Error::custom(format_args!(
                "unsupported contract version {v}, expected {VERSION}"
            )))
        }
    }
}

/// Why a payload was rejected.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("payload of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    /// Not JSON at all: truncated, bad syntax, not UTF-8.
    #[error("payload is not well-formed JSON: {0}")]
    Malformed(serde_json::Error),
    #[error("payload is not a JSON object")]
    NotAnObject,
    #[error("payload has no numeric `v` (contract version)")]
    MissingVersion,
    #[error("payload has contract version {found}, this build speaks {VERSION}")]
    UnsupportedVersion { found: u64 },
    /// Well-formed JSON of the right version that is not a valid message: a missing field, a
    /// number where a decimal string belongs, a bad id, values and error in one reading, ...
    #[error("invalid {message}: {source}")]
    Invalid {
        message: &'static str,
        source: serde_json::Error,
    },
    /// A gateway config that parses but breaks a configuration rule.
    #[error("invalid gateway config: {0}")]
    Config(#[from] ConfigError),
}

/// Why a message could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("encoded {message} is {size} bytes, over the limit of {max} bytes")]
    TooLarge {
        message: &'static str,
        size: usize,
        max: usize,
    },
    #[error("could not encode {message}: {source}")]
    Json {
        message: &'static str,
        source: serde_json::Error,
    },
}

/// A message of the contract: its name for errors and the rules checked after parsing.
pub trait WireMessage: Serialize + DeserializeOwned {
    const NAME: &'static str;

    /// Rules beyond the shape, checked by [`decode`] after parsing.
    fn check(&self) -> Result<(), DecodeError> {
        Ok(())
    }
}

impl WireMessage for ReadingBatch {
    const NAME: &'static str = "ReadingBatch";
}

impl WireMessage for Command {
    const NAME: &'static str = "Command";
}

impl WireMessage for CommandAck {
    const NAME: &'static str = "CommandAck";
}

impl WireMessage for GatewayStatus {
    const NAME: &'static str = "GatewayStatus";
}

impl WireMessage for GatewayConfig {
    const NAME: &'static str = "GatewayConfig";

    fn check(&self) -> Result<(), DecodeError> {
        Ok(self.validate()?)
    }
}

/// Decodes any message of the contract. Prefer the named `decode_*` functions.
pub fn decode<T: WireMessage>(payload: &[u8]) -> Result<T, DecodeError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(DecodeError::TooLarge {
            size: payload.len(),
            max: MAX_PAYLOAD_BYTES,
        });
    }
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(DecodeError::Malformed)?;
    // The version is read first so a future v2 payload is reported as such, not as a shape
    // error against v1.
    match value.get("v").and_then(serde_json::Value::as_u64) {
        Some(VERSION) => {}
        Some(found) => return Err(DecodeError::UnsupportedVersion { found }),
        // serde would read a struct from an array too; the contract speaks only objects.
        None if !value.is_object() => return Err(DecodeError::NotAnObject),
        None => return Err(DecodeError::MissingVersion),
    }
    let message = T::deserialize(value).map_err(|source| DecodeError::Invalid {
        message: T::NAME,
        source,
    })?;
    message.check()?;
    Ok(message)
}

/// Encodes any message of the contract as compact JSON.
pub fn encode<T: WireMessage>(message: &T) -> Result<Vec<u8>, EncodeError> {
    let bytes = serde_json::to_vec(message).map_err(|source| EncodeError::Json {
        message: T::NAME,
        source,
    })?;
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(EncodeError::TooLarge {
            message: T::NAME,
            size: bytes.len(),
            max: MAX_PAYLOAD_BYTES,
        });
    }
    Ok(bytes)
}

pub fn decode_reading_batch(payload: &[u8]) -> Result<ReadingBatch, DecodeError> {
    decode(payload)
}

pub fn decode_command(payload: &[u8]) -> Result<Command, DecodeError> {
    decode(payload)
}

pub fn decode_command_ack(payload: &[u8]) -> Result<CommandAck, DecodeError> {
    decode(payload)
}

pub fn decode_gateway_status(payload: &[u8]) -> Result<GatewayStatus, DecodeError> {
    decode(payload)
}

/// Decodes and validates a gateway config ([`GatewayConfig::validate`]).
pub fn decode_gateway_config(payload: &[u8]) -> Result<GatewayConfig, DecodeError> {
    decode(payload)
}
