//! Register-map presets for the meters of METERS.md, named by `model` in the configuration.
//!
//! A preset is only a shortcut to an explicit [`RegisterMap`]: anything it gets wrong for a
//! firmware can be fixed by writing the map out. Choices where the sources leave a doubt:
//! - Acrel DDSY1352/DTSY1352: relay read-back address is not public, so no `relay.read`; a trip
//!   or close is then acked with `relay: null` and confirmed by the next readings.
//! - Eastron: energy is *import* kWh (0x0048), what a tenant consumes; `total` (0x0156) would
//!   add exported energy. Power registers are in W, scaled to kW. SDM630 voltage and current
//!   are phase L1. No relay (an external relay module needs an explicit map).
//! - CHINT DDSU666: function 03 (most units; some answer on 04 only: write the map out).
//! - CHINT DTSU666: import kWh at 0x101E (older firmware; newer ones use 0x4000), phase A voltage
//!   and current, total power 0.1 W scaled to kW.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::register_map::{
    RegisterFunction, RegisterMap, RegisterSpec, RelayMap, RelayWrite, RelayWriteValue, ValueType,
};

/// A meter model with a built-in register map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MeterModel {
    #[serde(rename = "acrel-ddsy1352")]
    AcrelDdsy1352,
    #[serde(rename = "acrel-dtsy1352")]
    AcrelDtsy1352,
    #[serde(rename = "eastron-sdm120")]
    EastronSdm120,
    #[serde(rename = "eastron-sdm630")]
    EastronSdm630,
    #[serde(rename = "chint-ddsu666")]
    ChintDdsu666,
    #[serde(rename = "chint-dtsu666")]
    ChintDtsu666,
}

impl MeterModel {
    pub const ALL: [Self; 6] = [
        Self::AcrelDdsy1352,
        Self::AcrelDtsy1352,
        Self::EastronSdm120,
        Self::EastronSdm630,
        Self::ChintDdsu666,
        Self::ChintDtsu666,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AcrelDdsy1352 => "acrel-ddsy1352",
            Self::AcrelDtsy1352 => "acrel-dtsy1352",
            Self::EastronSdm120 => "eastron-sdm120",
            Self::EastronSdm630 => "eastron-sdm630",
            Self::ChintDdsu666 => "chint-ddsu666",
            Self::ChintDtsu666 => "chint-dtsu666",
        }
    }

    /// The register map this model stands for.
    pub fn register_map(self) -> RegisterMap {
        match self {
            Self::AcrelDdsy1352 | Self::AcrelDtsy1352 => acrel(),
            Self::EastronSdm120 => eastron(0x000C),
            Self::EastronSdm630 => eastron(0x0034),
            Self::ChintDdsu666 => RegisterMap {
                energy_kwh: Some(f32_at(RegisterFunction::Holding, 0x4000, None)),
                voltage_v: Some(f32_at(RegisterFunction::Holding, 0x2000, None)),
                current_a: Some(f32_at(RegisterFunction::Holding, 0x2002, None)),
                power_kw: Some(f32_at(RegisterFunction::Holding, 0x2004, None)),
                ..RegisterMap::default()
            },
            Self::ChintDtsu666 => RegisterMap {
                energy_kwh: Some(f32_at(RegisterFunction::Holding, 0x101E, None)),
                voltage_v: Some(f32_at(
                    RegisterFunction::Holding,
                    0x2006,
                    Some(Decimal::new(1, 1)),
                )),
                current_a: Some(f32_at(
                    RegisterFunction::Holding,
                    0x200C,
                    Some(Decimal::new(1, 3)),
                )),
                // 0.1 W per unit = 0.0001 kW.
                power_kw: Some(f32_at(
                    RegisterFunction::Holding,
                    0x2012,
                    Some(Decimal::new(1, 4)),
                )),
                ..RegisterMap::default()
            },
        }
    }
}

impl fmt::Display for MeterModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn f32_at(function: RegisterFunction, address: u16, scale: Option<Decimal>) -> RegisterSpec {
    RegisterSpec {
        function,
        address,
        value_type: ValueType::F32,
        word_order: None,
        scale,
    }
}

/// Acrel prepaid meters: u32 × 0.01 kWh on function 03, relay written with function 16.
fn acrel() -> RegisterMap {
    let energy = |address| {
        Some(RegisterSpec {
            function: RegisterFunction::Holding,
            address,
            value_type: ValueType::U32,
            word_order: None,
            scale: Some(Decimal::new(1, 2)),
        })
    };
    RegisterMap {
        energy_kwh: energy(0x0000),
        tou_sharp_kwh: energy(0x0002),
        tou_peak_kwh: energy(0x0004),
        tou_flat_kwh: energy(0x0006),
        tou_valley_kwh: energy(0x0008),
        relay: Some(RelayMap {
            read: None,
            write: Some(RelayWrite {
                function: RegisterFunction::Holding,
                address: 0x0057,
                // trip = 0x0001 0x0001, close = 0x0001 0x0000
                open: RelayWriteValue::Multiple(vec![1, 1]),
                closed: RelayWriteValue::Multiple(vec![1, 0]),
            }),
        }),
        ..RegisterMap::default()
    }
}

/// Eastron SDM: IEEE-754 f32 input registers; power in W at `power_w_address`.
fn eastron(power_w_address: u16) -> RegisterMap {
    RegisterMap {
        energy_kwh: Some(f32_at(RegisterFunction::Input, 0x0048, None)),
        voltage_v: Some(f32_at(RegisterFunction::Input, 0x0000, None)),
        current_a: Some(f32_at(RegisterFunction::Input, 0x0006, None)),
        power_kw: Some(f32_at(
            RegisterFunction::Input,
            power_w_address,
            Some(Decimal::new(1, 3)),
        )),
        ..RegisterMap::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_a_valid_map_and_named_as_in_config() {
        for model in MeterModel::ALL {
            model.register_map().validate().unwrap();
            let json = serde_json::to_string(&model).unwrap();
            assert_eq!(json, format!("\"{}\"", model.as_str()));
            assert_eq!(serde_json::from_str::<MeterModel>(&json).unwrap(), model);
        }
        assert!(serde_json::from_str::<MeterModel>("\"acrel-x\"").is_err());
    }

    #[test]
    fn acrel_trips_with_a_two_register_write() {
        let map = MeterModel::AcrelDdsy1352.register_map();
        let write = map.relay.unwrap().write.unwrap();
        assert_eq!(write.address, 0x0057);
        assert_eq!(write.open.words(), [1, 1]);
        assert_eq!(write.closed.words(), [1, 0]);
        assert_eq!(map.tou_valley_kwh.unwrap().address, 0x0008);
    }
}
