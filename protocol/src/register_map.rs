//! Explicit Modbus register maps: how to read a meter's values and drive its relay.
//!
//! The map is the contract with a meter (presets are only shortcuts to one), so a meter nobody
//! has coded for can be added by configuration alone. Keys are the value names of a
//! `ReadingBatch`; bytes within a register are big-endian (Modbus) and `word_order` orders the
//! registers of a multi-register value (`big`, the default, puts the high word first).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Registers of one meter; each value is absent when the meter does not have it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterMap {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_kwh: Option<RegisterSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tou_sharp_kwh: Option<RegisterSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tou_peak_kwh: Option<RegisterSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tou_flat_kwh: Option<RegisterSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tou_valley_kwh: Option<RegisterSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voltage_v: Option<RegisterSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_a: Option<RegisterSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_kw: Option<RegisterSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<RelayMap>,
}

/// Where and how one value is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterSpec {
    pub function: RegisterFunction,
    pub address: u16,
    #[serde(rename = "type")]
    pub value_type: ValueType,
    /// Absent means `big`; kept absent so a config goes back out as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word_order: Option<WordOrder>,
    /// Multiplied into the raw value; absent means 1.
    #[serde(
        default,
        with = "crate::decimal::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub scale: Option<Decimal>,
}

impl RegisterSpec {
    pub fn word_order(&self) -> WordOrder {
        self.word_order.unwrap_or_default()
    }

    pub fn scale(&self) -> Decimal {
        self.scale.unwrap_or(Decimal::ONE)
    }

    /// Number of 16-bit registers the value spans.
    pub fn words(&self) -> u16 {
        self.value_type.words()
    }
}

/// Modbus table: read with function 01, 02, 03 or 04 respectively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegisterFunction {
    Coil,
    Discrete,
    Holding,
    Input,
}

impl RegisterFunction {
    /// Coils and discrete inputs hold single bits, not numbers.
    pub fn is_bit(self) -> bool {
        matches!(self, Self::Coil | Self::Discrete)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    U16,
    I16,
    U32,
    I32,
    F32,
    U64,
    F64,
}

impl ValueType {
    pub fn words(self) -> u16 {
        match self {
            Self::U16 | Self::I16 => 1,
            Self::U32 | Self::I32 | Self::F32 => 2,
            Self::U64 | Self::F64 => 4,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WordOrder {
    /// High word first (the Modbus convention).
    #[default]
    Big,
    /// Low word first.
    Little,
}

/// How to read back and drive a relay; either side may be missing (Acrel's read-back address
/// is not public, and a relay module may be read-only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayMap {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<RelayRead>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<RelayWrite>,
}

/// The register whose value says open or closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayRead {
    pub function: RegisterFunction,
    pub address: u16,
    pub open: u16,
    pub closed: u16,
}

/// What to write to open (trip) or close the relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayWrite {
    pub function: RegisterFunction,
    pub address: u16,
    pub open: RelayWriteValue,
    pub closed: RelayWriteValue,
}

/// One value (a coil or a single register), or several registers written at once with
/// function 16 (Acrel: `open = [1, 1]`, `closed = [1, 0]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RelayWriteValue {
    Single(u16),
    Multiple(Vec<u16>),
}

impl RelayWriteValue {
    pub fn words(&self) -> &[u16] {
        match self {
            Self::Single(w) => std::slice::from_ref(w),
            Self::Multiple(ws) => ws,
        }
    }
}

/// Most registers one Modbus write (function 16) may carry.
const MAX_WRITE_REGISTERS: usize = 123;

/// A register map that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("`{key}` reads a {function:?} table, which holds bits; values need holding or input")]
    BitTableForValue {
        key: &'static str,
        function: RegisterFunction,
    },
    #[error("`{key}` at address {address:#06x} runs past the last register 0xffff")]
    PastEnd { key: &'static str, address: u16 },
    #[error("`{key}` has scale {scale}, which must be greater than zero")]
    BadScale { key: &'static str, scale: Decimal },
    #[error("`relay` has neither `read` nor `write`")]
    EmptyRelay,
    #[error("`relay.{side}` uses the same value for open and closed")]
    SameOpenAndClosed { side: &'static str },
    #[error("`relay.{side}` on a {function:?} table can only use the values 0 and 1, once")]
    NotABit {
        side: &'static str,
        function: RegisterFunction,
    },
    #[error("`relay.write` must use function coil or holding, not {0:?}")]
    NotWritable(RegisterFunction),
    #[error(
        "`relay.write` open and closed must write between 1 and 123 registers, the same number"
    )]
    BadWriteLength,
}

impl RegisterMap {
    /// The value registers with their keys, in wire order.
    pub fn values(&self) -> impl Iterator<Item = (&'static str, &RegisterSpec)> {
        [
            ("energy_kwh", &self.energy_kwh),
            ("tou_sharp_kwh", &self.tou_sharp_kwh),
            ("tou_peak_kwh", &self.tou_peak_kwh),
            ("tou_flat_kwh", &self.tou_flat_kwh),
            ("tou_valley_kwh", &self.tou_valley_kwh),
            ("voltage_v", &self.voltage_v),
            ("current_a", &self.current_a),
            ("power_kw", &self.power_kw),
        ]
        .into_iter()
        .filter_map(|(key, spec)| spec.as_ref().map(|s| (key, s)))
    }

    pub fn validate(&self) -> Result<(), RegisterError> {
        for (key, spec) in self.values() {
            if spec.function.is_bit() {
                return Err(RegisterError::BitTableForValue {
                    key,
                    function: spec.function,
                });
            }
            if u32::from(spec.address) + u32::from(spec.words()) > 0x1_0000 {
                return Err(RegisterError::PastEnd {
                    key,
                    address: spec.address,
                });
            }
            if spec.scale() <= Decimal::ZERO {
                return Err(RegisterError::BadScale {
                    key,
                    scale: spec.scale(),
                });
            }
        }
        match &self.relay {
            Some(relay) => relay.validate(),
            None => Ok(()),
        }
    }
}

impl RelayMap {
    pub fn validate(&self) -> Result<(), RegisterError> {
        if self.read.is_none() && self.write.is_none() {
            return Err(RegisterError::EmptyRelay);
        }
        if let Some(read) = &self.read {
            if read.open == read.closed {
                return Err(RegisterError::SameOpenAndClosed { side: "read" });
            }
            if read.function.is_bit() && (read.open > 1 || read.closed > 1) {
                return Err(RegisterError::NotABit {
                    side: "read",
                    function: read.function,
                });
            }
        }
        if let Some(write) = &self.write {
            let (open, closed) = (write.open.words(), write.closed.words());
            match write.function {
                RegisterFunction::Coil => {
                    let bit = |v: &RelayWriteValue| matches!(v, RelayWriteValue::Single(0 | 1));
                    if !bit(&write.open) || !bit(&write.closed) {
                        return Err(RegisterError::NotABit {
                            side: "write",
                            function: write.function,
                        });
                    }
                }
                RegisterFunction::Holding => {
                    let ok = |n: usize| (1..=MAX_WRITE_REGISTERS).contains(&n);
                    if !ok(open.len()) || open.len() != closed.len() {
                        return Err(RegisterError::BadWriteLength);
                    }
                }
                other => return Err(RegisterError::NotWritable(other)),
            }
            if open == closed {
                return Err(RegisterError::SameOpenAndClosed { side: "write" });
            }
        }
        Ok(())
    }
}
