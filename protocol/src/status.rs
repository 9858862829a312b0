//! `GatewayStatus`: a gateway's health, published retained on `up/status`.
//!
//! The same message with `online: false` is the agent's MQTT last will, composed at connect time,
//! so every field beyond the v1 example is optional: absent means "not reported", not zero.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::GatewayId;
use crate::wire::V1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayStatus {
    pub v: V1,
    pub gateway: GatewayId,
    pub online: bool,
    pub agent_version: String,
    #[serde(default)]
    pub buses: Vec<BusStatus>,
    pub ts: DateTime<Utc>,
    /// The `version` of the gateway config the agent runs; absent before any was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_version: Option<u64>,
    /// Why the last received config was not applied; absent when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_error: Option<String>,
    /// Readings waiting in the agent's disk queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_len: Option<u64>,
    /// Readings dropped since the agent started because the disk queue was full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_readings: Option<u64>,
    /// Commands that could not be parsed (they have no id to answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_commands: Option<u64>,
    /// False when the box's clock disagrees with the broker or NTP by more than a minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_ok: Option<bool>,
}

/// Health of one bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusStatus {
    pub name: String,
    pub ok: bool,
    pub meters_ok: u32,
    pub meters_failed: u32,
}
