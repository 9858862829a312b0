//! One simulated meter: its energy register growing with the load while the relay is closed,
//! and the register image a Modbus request reads from it.
//!
//! Energy is kept as an exact decimal and settled whenever the relay moves or the meter is read,
//! so an open relay stops it dead. Values are encoded with the meter's own register map (the
//! inverse of the protocol's `RegisterSpec::decode`), so any map the agent can read, the
//! simulator can serve. Addresses the map does not define answer exception 2 (illegal data
//! address), as real meters do.

use std::collections::HashMap;
use std::time::Instant;

use protocol::register_map::{
    RegisterFunction, RegisterSpec, RelayWriteValue, ValueType, WordOrder,
};
use protocol::{RegisterMap, RelayState};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio_modbus::ExceptionCode;

/// Line voltage the simulator reports.
const VOLTAGE_V: Decimal = Decimal::from_parts(230, 0, 0, false, 0);
const MS_PER_HOUR: Decimal = Decimal::from_parts(3_600_000, 0, 0, false, 0);

/// How one simulated meter starts.
#[derive(Debug, Clone)]
pub struct SimMeterConfig {
    pub slave: u8,
    pub map: RegisterMap,
    /// Load drawn while the relay is closed.
    pub load_kw: Decimal,
    pub energy_kwh: Decimal,
    pub relay: RelayState,
}

/// What survives a simulator restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedMeter {
    #[serde(with = "rust_decimal::serde::str")]
    pub energy_kwh: Decimal,
    pub relay: RelayState,
}

#[derive(Debug)]
pub struct SimMeter {
    pub map: RegisterMap,
    pub load_kw: Decimal,
    energy_kwh: Decimal,
    settled_at: Instant,
    pub relay: RelayState,
    pub relay_writes: u64,
    /// A silent meter never answers (a dead meter or swapped wires).
    pub silent: bool,
}

impl SimMeter {
    pub fn new(config: &SimMeterConfig, now: Instant) -> Self {
        Self {
            map: config.map.clone(),
            load_kw: config.load_kw,
            energy_kwh: config.energy_kwh,
            settled_at: now,
            relay: config.relay,
            relay_writes: 0,
            silent: false,
        }
    }

    pub fn restore(&mut self, saved: &SavedMeter, now: Instant) {
        self.energy_kwh = saved.energy_kwh;
        self.relay = saved.relay;
        self.settled_at = now;
    }

    pub fn saved(&mut self, now: Instant, time_scale: Decimal) -> SavedMeter {
        SavedMeter {
            energy_kwh: self.energy(now, time_scale),
            relay: self.relay,
        }
    }

    /// Energy so far: what was settled plus the load since, while closed.
    pub fn energy(&mut self, now: Instant, time_scale: Decimal) -> Decimal {
        if self.relay == RelayState::Closed {
            let ms = Decimal::from(now.duration_since(self.settled_at).as_millis());
            self.energy_kwh += self.load_kw * ms / MS_PER_HOUR * time_scale;
        }
        self.settled_at = now;
        self.energy_kwh
    }

    pub fn set_load(&mut self, load_kw: Decimal, now: Instant, time_scale: Decimal) {
        self.energy(now, time_scale);
        self.load_kw = load_kw;
    }

    fn value_of(&mut self, key: &str, now: Instant, time_scale: Decimal) -> Decimal {
        let closed = self.relay == RelayState::Closed;
        match key {
            // The whole consumption is attributed to the flat period.
            "energy_kwh" | "tou_flat_kwh" => self.energy(now, time_scale),
            "voltage_v" => VOLTAGE_V,
            "current_a" if closed => (self.load_kw * Decimal::ONE_THOUSAND / VOLTAGE_V).round_dp(3),
            "power_kw" if closed => self.load_kw,
            _ => Decimal::ZERO,
        }
    }

    /// The words (bits as 0/1) a read of `count` items of `function` at `start` returns.
    pub fn read(
        &mut self,
        function: RegisterFunction,
        start: u16,
        count: u16,
        now: Instant,
        time_scale: Decimal,
    ) -> Result<Vec<u16>, ExceptionCode> {
        let mut image: HashMap<u16, u16> = HashMap::new();
        let specs: Vec<(&'static str, RegisterSpec)> =
            self.map.values().map(|(k, s)| (k, s.clone())).collect();
        for (key, spec) in specs {
            if spec.function != function {
                continue;
            }
            let value = self.value_of(key, now, time_scale);
            for (i, w) in encode(&spec, value).into_iter().enumerate() {
                let offset = u16::try_from(i).unwrap_or(u16::MAX);
                image.insert(spec.address.wrapping_add(offset), w);
            }
        }
        if let Some(read) = self.map.relay.as_ref().and_then(|r| r.read.as_ref()) {
            if read.function == function {
                let v = match self.relay {
                    RelayState::Open => read.open,
                    RelayState::Closed => read.closed,
                };
                image.insert(read.address, v);
            }
        }
        (0..count)
            .map(|i| {
                image
                    .get(&start.wrapping_add(i))
                    .copied()
                    .ok_or(ExceptionCode::IllegalDataAddress)
            })
            .collect()
    }

    /// Applies a write; only the relay write of the map is writable.
    pub fn write(
        &mut self,
        function: RegisterFunction,
        address: u16,
        words: &[u16],
        single: bool,
        now: Instant,
        time_scale: Decimal,
    ) -> Result<(), ExceptionCode> {
        let Some(write) = self.map.relay.as_ref().and_then(|r| r.write.clone()) else {
            return Err(ExceptionCode::IllegalDataAddress);
        };
        if write.function != function || write.address != address {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let matches = |v: &RelayWriteValue| {
            v.words() == words
                && (single == matches!(v, RelayWriteValue::Single(_))
                    || function == RegisterFunction::Coil)
        };
        let state = if matches(&write.open) {
            RelayState::Open
        } else if matches(&write.closed) {
            RelayState::Closed
        } else {
            return Err(ExceptionCode::IllegalDataValue);
        };
        self.energy(now, time_scale);
        self.relay = state;
        self.relay_writes += 1;
        Ok(())
    }
}

/// The register words of `value` under `spec` (the inverse of `RegisterSpec::decode`).
pub fn encode(spec: &RegisterSpec, value: Decimal) -> Vec<u16> {
    let raw = if spec.scale() == Decimal::ZERO {
        value
    } else {
        value / spec.scale()
    };
    let bits: u64 = match spec.value_type {
        ValueType::U16 => raw.trunc().to_u16().map_or(0, u64::from),
        ValueType::I16 => raw
            .trunc()
            .to_i16()
            .map_or(0, |v| u64::from(u16::from_be_bytes(v.to_be_bytes()))),
        ValueType::U32 => raw.trunc().to_u32().map_or(0, u64::from),
        ValueType::I32 => raw
            .trunc()
            .to_i32()
            .map_or(0, |v| u64::from(u32::from_be_bytes(v.to_be_bytes()))),
        ValueType::U64 => raw.trunc().to_u64().unwrap_or(0),
        ValueType::F32 => raw.to_f32().map_or(0, |f| u64::from(f.to_bits())),
        ValueType::F64 => raw.to_f64().map_or(0, f64::to_bits),
    };
    let n = spec.words();
    let mut words: Vec<u16> = (0..n)
        .rev()
        .map(|i| u16::try_from((bits >> (16 * u32::from(i))) & 0xFFFF).unwrap_or(0))
        .collect();
    if spec.word_order() == WordOrder::Little {
        words.reverse();
    }
    words
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use protocol::register_map::RegisterFunction::Holding;

    fn spec(value_type: ValueType, word_order: Option<WordOrder>, scale: &str) -> RegisterSpec {
        RegisterSpec {
            function: Holding,
            address: 0,
            value_type,
            word_order,
            scale: Some(scale.parse().unwrap()),
        }
    }

    #[test]
    fn encode_is_the_inverse_of_decode() {
        for (s, v) in [
            (spec(ValueType::U32, None, "0.01"), "1234.56"),
            (
                spec(ValueType::U32, Some(WordOrder::Little), "0.01"),
                "1234.56",
            ),
            (spec(ValueType::I16, None, "0.1"), "-0.1"),
            (spec(ValueType::I32, None, "1"), "-2"),
            (spec(ValueType::U64, None, "0.001"), "65.536"),
            (spec(ValueType::F32, None, "1"), "230.1"),
            (spec(ValueType::F64, None, "1"), "1234.5"),
            (spec(ValueType::F32, None, "0.001"), "0.26"),
        ] {
            let value: Decimal = v.parse().unwrap();
            let words = encode(&s, value);
            assert_eq!(s.decode(&words).unwrap(), value, "{s:?}");
        }
    }
}
