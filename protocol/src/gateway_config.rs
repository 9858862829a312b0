//! Buses and meters of a gateway: the `[[bus]]` part of the agent's TOML file and, with the same
//! keys, the `GatewayConfig` JSON the worker publishes retained on `down/config`.
//!
//! Optional keys stay `None` when absent (defaults come from accessor methods), so a config goes
//! back out with exactly the keys it came in with. Parsing checks shapes; [`validate_buses`]
//! checks the rules across keys: unique bus names and meter ids, unique slave ids per bus, the
//! keys each transport needs, and a meter described by `model` or `registers`, not both.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::num::NonZeroU32;

use serde::{Deserialize, Deserializer, Serialize};

use crate::duration::ConfigDuration;
use crate::id::{GatewayId, MeterId};
use crate::preset::MeterModel;
use crate::register_map::{RegisterError, RegisterMap};
use crate::wire::V1;

/// The JSON form of a gateway's buses, with a version the agent reports once applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayConfig {
    pub v: V1,
    pub gateway: GatewayId,
    /// Increases whenever the meters of the gateway change; the agent applies only a newer one.
    pub version: u64,
    pub bus: Vec<BusConfig>,
}

impl GatewayConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_buses(&self.bus)
    }
}

/// One RS485 bus (or a TCP route to one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusConfig {
    pub name: String,
    pub transport: Transport,
    /// Serial device, for `rtu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// `host:port`, for `tcp` and `rtu-over-tcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baud: Option<NonZeroU32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parity: Option<Parity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<ConfigDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<ConfigDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Pause between two requests on the bus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_gap: Option<ConfigDuration>,
    /// Pause when the master switches to another slave id (some meters need it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slave_switch_gap: Option<ConfigDuration>,
    /// Address to accept the DTU's connection on, for `dtu-server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// The id the DTU announces in its registration packet, for `dtu-server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtu_id: Option<String>,
    /// What the DTU's registration packet looks like, for `dtu-server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<PacketPattern>,
    /// What the DTU's heartbeat packets look like (stripped from the stream), for `dtu-server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<PacketPattern>,
    #[serde(default)]
    pub meter: Vec<MeterConfig>,
}

impl BusConfig {
    pub const DEFAULT_BAUD: u32 = 9600;
    pub const DEFAULT_POLL_INTERVAL: ConfigDuration = ConfigDuration::seconds(60);
    /// Long enough for a reply through a 4G DTU (METERS.md: 1–3 s); set lower on a local bus.
    pub const DEFAULT_TIMEOUT: ConfigDuration = ConfigDuration::seconds(2);
    pub const DEFAULT_RETRIES: u32 = 1;

    pub fn baud(&self) -> u32 {
        self.baud.map_or(Self::DEFAULT_BAUD, NonZeroU32::get)
    }
    pub fn parity(&self) -> Parity {
        self.parity.unwrap_or_default()
    }
    pub fn poll_interval(&self) -> ConfigDuration {
        self.poll_interval.unwrap_or(Self::DEFAULT_POLL_INTERVAL)
    }
    pub fn timeout(&self) -> ConfigDuration {
        self.timeout.unwrap_or(Self::DEFAULT_TIMEOUT)
    }
    pub fn retries(&self) -> u32 {
        self.retries.unwrap_or(Self::DEFAULT_RETRIES)
    }
    pub fn request_gap(&self) -> ConfigDuration {
        self.request_gap.unwrap_or(ConfigDuration::millis(0))
    }
    pub fn slave_switch_gap(&self) -> ConfigDuration {
        self.slave_switch_gap.unwrap_or(ConfigDuration::millis(0))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// Modbus RTU on a local serial port.
    Rtu,
    /// Modbus TCP.
    Tcp,
    /// RTU frames through a TCP connection we dial (a DTU or serial server in client mode).
    RtuOverTcp,
    /// RTU frames through a TCP connection the DTU opens to us.
    DtuServer,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Parity {
    #[default]
    N,
    E,
    O,
}

/// A DTU packet pattern: `"hex:..."` (exact bytes) or `"regex:..."` (matched on the bytes).
/// Kept as written; [`PacketPattern::hex_bytes`] decodes the hex form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PacketPattern(String);

impl PacketPattern {
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        let ok = match (s.strip_prefix("hex:"), s.strip_prefix("regex:")) {
            (Some(hex), _) => decode_hex(hex).is_some(),
            (_, Some(re)) => !re.is_empty(),
            _ => false,
        };
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ConfigError::BadPacketPattern(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The bytes of a `hex:` pattern, `None` for a `regex:` one.
    pub fn hex_bytes(&self) -> Option<Vec<u8>> {
        self.0.strip_prefix("hex:").and_then(decode_hex)
    }

    /// The expression of a `regex:` pattern, `None` for a `hex:` one.
    pub fn regex(&self) -> Option<&str> {
        self.0.strip_prefix("regex:")
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.is_empty() || hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

impl<'de> Deserialize<'de> for PacketPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One meter on a bus: a preset `model` or explicit `registers`, never both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterConfig {
    pub id: MeterId,
    pub slave: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<MeterModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registers: Option<RegisterMap>,
    /// The CT ratio (变比) of the metering point, for reference and checks on the box. Readings
    /// carry the meter's own register values; the cloud applies the ratio when rating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ct_ratio: Option<NonZeroU32>,
}

impl MeterConfig {
    /// The map to poll with: the explicit one, else the preset's; `None` only for a meter that
    /// fails validation.
    pub fn register_map(&self) -> Option<RegisterMap> {
        self.registers
            .clone()
            .or_else(|| self.model.map(MeterModel::register_map))
    }
}

/// A configuration that parses but cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("bus name {0:?} is used twice")]
    DuplicateBus(String),
    #[error("bus has an empty name")]
    EmptyBusName,
    #[error("meter id {0} is used twice in this gateway")]
    DuplicateMeter(MeterId),
    #[error("bus {bus}: slave id {slave} is used by two meters")]
    DuplicateSlave { bus: String, slave: u8 },
    #[error("meter {meter}: slave id {slave} is outside 1..=247")]
    SlaveOutOfRange { meter: MeterId, slave: u8 },
    #[error("bus {bus}: transport {transport:?} needs `{key}`")]
    MissingKey {
        bus: String,
        transport: Transport,
        key: &'static str,
    },
    #[error("bus {bus}: address {address:?} is not `host:port`")]
    BadAddress { bus: String, address: String },
    #[error("meter {0}: give either `model` or `registers`, not both")]
    ModelAndRegisters(MeterId),
    #[error("meter {0}: give a `model` or `registers`")]
    NoModelNorRegisters(MeterId),
    #[error("meter {meter}: {source}")]
    Registers {
        meter: MeterId,
        source: RegisterError,
    },
    #[error("packet pattern {0:?} is not `hex:` with an even number of hex digits or `regex:...`")]
    BadPacketPattern(String),
}

/// Checks the rules across keys of a gateway's buses (see the module docs).
pub fn validate_buses(buses: &[BusConfig]) -> Result<(), ConfigError> {
    let mut bus_names = HashSet::new();
    let mut meter_ids = HashSet::new();
    for bus in buses {
        if bus.name.is_empty() {
            return Err(ConfigError::EmptyBusName);
        }
        if !bus_names.insert(bus.name.as_str()) {
            return Err(ConfigError::DuplicateBus(bus.name.clone()));
        }
        check_transport_keys(bus)?;
        let mut slaves = HashSet::new();
        for meter in &bus.meter {
            if !meter_ids.insert(&meter.id) {
                return Err(ConfigError::DuplicateMeter(meter.id.clone()));
            }
            if !(1..=247).contains(&meter.slave) {
                return Err(ConfigError::SlaveOutOfRange {
                    meter: meter.id.clone(),
                    slave: meter.slave,
                });
            }
            // A bus is one link (a serial line or one TCP address): a slave id names one device.
            if !slaves.insert(meter.slave) {
                return Err(ConfigError::DuplicateSlave {
                    bus: bus.name.clone(),
                    slave: meter.slave,
                });
            }
            match (&meter.model, &meter.registers) {
                (Some(_), Some(_)) => return Err(ConfigError::ModelAndRegisters(meter.id.clone())),
                (None, None) => return Err(ConfigError::NoModelNorRegisters(meter.id.clone())),
                (None, Some(map)) => map.validate().map_err(|source| ConfigError::Registers {
                    meter: meter.id.clone(),
                    source,
                })?,
                (Some(_), None) => {}
            }
        }
    }
    Ok(())
}

fn check_transport_keys(bus: &BusConfig) -> Result<(), ConfigError> {
    let missing = |key| ConfigError::MissingKey {
        bus: bus.name.clone(),
        transport: bus.transport,
        key,
    };
    match bus.transport {
        Transport::Rtu if bus.device.is_none() => Err(missing("device")),
        Transport::Tcp | Transport::RtuOverTcp if bus.address.is_none() => Err(missing("address")),
        Transport::DtuServer if bus.listen.is_none() => Err(missing("listen")),
        Transport::DtuServer if bus.dtu_id.is_none() => Err(missing("dtu_id")),
        _ => match &bus.address {
            // A host name is fine (resolved by the agent), a missing port is not.
            Some(addr)
                if !addr.rsplit_once(':').is_some_and(|(host, port)| {
                    !host.is_empty() && port.parse::<u16>().is_ok()
                }) =>
            {
                Err(ConfigError::BadAddress {
                    bus: bus.name.clone(),
                    address: addr.clone(),
                })
            }
            _ => Ok(()),
        },
    }
}
