//! The gateway agent's whole configuration file (TOML), as ARCHITECTURE.md "Gateway agent
//! configuration" writes it.
//!
//! The `[[bus]]` part is the same [`BusConfig`] the cloud sends as `GatewayConfig`, so a file and
//! a retained `down/config` message describe meters identically. No I/O here: the agent reads the
//! file and hands the text to [`AgentConfig::from_toml_str`].

use std::num::NonZeroU64;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;
use crate::gateway_config::{validate_buses, BusConfig, ConfigError};
use crate::id::GatewayId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentConfig {
    pub gateway_id: GatewayId,
    /// Where the store-and-forward queue and the command ack store live.
    pub data_dir: PathBuf,
    pub mqtt: MqttConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_interval: Option<ConfigDuration>,
    #[serde(default)]
    pub queue: QueueConfig,
    #[serde(default)]
    pub bus: Vec<BusConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MqttConfig {
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A file holding the password, so the secret stays out of the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Extra CA certificate for `mqtts://` (a private CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Defaults to the gateway id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    /// Readings kept on disk before the oldest are dropped (and the drop reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_readings: Option<NonZeroU64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentConfigError {
    #[error("agent configuration is not valid TOML for this schema: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("mqtt url {0:?} must start with mqtt:// or mqtts://")]
    MqttUrl(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// How long the disk queue must hold readings by default (ARCHITECTURE.md invariant 6).
const QUEUE_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Floor of the default queue size, for a gateway configured with few or no meters yet (the
/// cloud may send more by `down/config`).
const MIN_DEFAULT_MAX_READINGS: u64 = 100_000;

impl AgentConfig {
    pub const DEFAULT_STATUS_INTERVAL: ConfigDuration = ConfigDuration::seconds(60);

    /// Parses and validates the agent's configuration file.
    pub fn from_toml_str(text: &str) -> Result<Self, AgentConfigError> {
        let config: Self = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), AgentConfigError> {
        let url = &self.mqtt.url;
        if !(url.starts_with("mqtt://") || url.starts_with("mqtts://")) {
            return Err(AgentConfigError::MqttUrl(url.clone()));
        }
        validate_buses(&self.bus)?;
        Ok(())
    }

    pub fn status_interval(&self) -> ConfigDuration {
        self.status_interval
            .unwrap_or(Self::DEFAULT_STATUS_INTERVAL)
    }

    pub fn client_id(&self) -> &str {
        self.mqtt
            .client_id
            .as_deref()
            .unwrap_or(self.gateway_id.as_str())
    }

    /// The configured queue bound, else enough for seven days of every meter's readings at its
    /// bus's poll interval (at least 100 000).
    pub fn max_readings(&self) -> u64 {
        if let Some(n) = self.queue.max_readings {
            return n.get();
        }
        let retention_ms = u64::try_from(QUEUE_RETENTION.as_millis()).unwrap_or(u64::MAX);
        let per_week: u64 = self
            .bus
            .iter()
            .map(|bus| {
                let every_ms = u64::try_from(bus.poll_interval().as_std().as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1);
                let meters = u64::try_from(bus.meter.len()).unwrap_or(u64::MAX);
                retention_ms.div_ceil(every_ms).saturating_mul(meters)
            })
            .fold(0, u64::saturating_add);
        per_week.max(MIN_DEFAULT_MAX_READINGS)
    }
}
