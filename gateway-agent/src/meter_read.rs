//! Reading one meter: its register map turned into as few block requests as possible, the
//! answers decoded into the values of a reading.
//!
//! Values of one Modbus table whose registers touch or overlap are read in one request (up to
//! the protocol's 125 registers or 2000 bits); registers nobody asked for are never read, since
//! many meters answer an unmapped address with an exception. Decoding goes through the
//! protocol's [`RegisterSpec::decode`](protocol::register_map::RegisterSpec::decode), which the
//! simulator shares, so the rendering of values is the contract's.

use protocol::register_map::{RegisterFunction, RelayWrite};
use protocol::{ReadFailure, ReadingValues, RegisterMap, RelayState, TouKwh};
use rust_decimal::Decimal;
use tokio_modbus::{Request, Response};

use crate::modbus_link::{LinkError, ModbusLink};

/// Most registers one read may ask for (function 03/04).
const MAX_REGISTERS: u16 = 125;
/// Most bits one read may ask for (function 01/02).
const MAX_BITS: u16 = 2000;

/// One read request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub function: RegisterFunction,
    pub start: u16,
    pub count: u16,
}

impl Block {
    fn end(self) -> u32 {
        u32::from(self.start) + u32::from(self.count)
    }

    fn request(self) -> Request<'static> {
        match self.function {
            RegisterFunction::Coil => Request::ReadCoils(self.start, self.count),
            RegisterFunction::Discrete => Request::ReadDiscreteInputs(self.start, self.count),
            RegisterFunction::Holding => Request::ReadHoldingRegisters(self.start, self.count),
            RegisterFunction::Input => Request::ReadInputRegisters(self.start, self.count),
        }
    }
}

/// A block and the words it returned (bits as 0 or 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBlock {
    pub block: Block,
    pub words: Vec<u16>,
}

/// The block requests that read every value and the relay state of `map`.
pub fn plan(map: &RegisterMap) -> Vec<Block> {
    let mut items: Vec<Block> = map
        .values()
        .map(|(_, spec)| Block {
            function: spec.function,
            start: spec.address,
            count: spec.words(),
        })
        .collect();
    if let Some(read) = map.relay.as_ref().and_then(|r| r.read.as_ref()) {
        items.push(Block {
            function: read.function,
            start: read.address,
            count: 1,
        });
    }
    items.sort_by_key(|b| (function_order(b.function), b.start));
    let mut blocks: Vec<Block> = Vec::new();
    for item in items {
        if let Some(last) = blocks.last_mut() {
            let max = if item.function.is_bit() {
                MAX_BITS
            } else {
                MAX_REGISTERS
            };
            let end = last.end().max(item.end());
            if last.function == item.function
                && u32::from(item.start) <= last.end()
                && end - u32::from(last.start) <= u32::from(max)
            {
                // Fits: `end - start` was just checked against a u16 maximum.
                last.count = u16::try_from(end - u32::from(last.start)).unwrap_or(max);
                continue;
            }
        }
        blocks.push(item);
    }
    blocks
}

fn function_order(f: RegisterFunction) -> u8 {
    match f {
        RegisterFunction::Holding => 0,
        RegisterFunction::Input => 1,
        RegisterFunction::Coil => 2,
        RegisterFunction::Discrete => 3,
    }
}

/// Runs one block read.
pub async fn read_block(
    link: &mut ModbusLink,
    slave: u8,
    block: Block,
) -> Result<RawBlock, LinkError> {
    let response = link.call(slave, block.request()).await?;
    let words: Vec<u16> = match response {
        Response::ReadHoldingRegisters(w) | Response::ReadInputRegisters(w) => w,
        Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits) => {
            bits.into_iter().map(u16::from).collect()
        }
        other => return Err(LinkError::Protocol(format!("unexpected answer {other:?}"))),
    };
    if words.len() < usize::from(block.count) {
        return Err(LinkError::Protocol(format!(
            "asked for {} values, got {}",
            block.count,
            words.len()
        )));
    }
    Ok(RawBlock { block, words })
}

/// Why a meter read produced no values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("could not decode `{key}`: {reason}")]
    Decode { key: &'static str, reason: String },
}

impl ReadError {
    pub fn reading_error(&self) -> ReadFailure {
        match self {
            Self::Link(e) => e.reading_error(),
            Self::Decode { .. } => ReadFailure::Decode,
        }
    }
}

/// Reads every block of `map` from `slave` and decodes the values.
pub async fn read_meter(
    link: &mut ModbusLink,
    slave: u8,
    map: &RegisterMap,
) -> Result<(ReadingValues, Vec<RawBlock>), ReadError> {
    let mut raw = Vec::new();
    for block in plan(map) {
        raw.push(read_block(link, slave, block).await?);
    }
    let values = decode(map, &raw)?;
    Ok((values, raw))
}

fn words_at(
    raw: &[RawBlock],
    function: RegisterFunction,
    address: u16,
    count: u16,
) -> Option<&[u16]> {
    raw.iter().find_map(|r| {
        let b = r.block;
        let end = u32::from(address) + u32::from(count);
        if b.function != function || address < b.start || end > b.end() {
            return None;
        }
        let from = usize::from(address - b.start);
        r.words.get(from..from + usize::from(count))
    })
}

/// Decodes the values of `map` from blocks read by [`plan`].
pub fn decode(map: &RegisterMap, raw: &[RawBlock]) -> Result<ReadingValues, ReadError> {
    let get = |key: &'static str,
               spec: Option<&protocol::register_map::RegisterSpec>|
     -> Result<Option<Decimal>, ReadError> {
        let Some(spec) = spec else { return Ok(None) };
        let words =
            words_at(raw, spec.function, spec.address, spec.words()).ok_or(ReadError::Decode {
                key,
                reason: "register not read".into(),
            })?;
        spec.decode(words).map(Some).map_err(|e| ReadError::Decode {
            key,
            reason: e.to_string(),
        })
    };
    let tou = TouKwh {
        sharp: get("tou_sharp_kwh", map.tou_sharp_kwh.as_ref())?,
        peak: get("tou_peak_kwh", map.tou_peak_kwh.as_ref())?,
        flat: get("tou_flat_kwh", map.tou_flat_kwh.as_ref())?,
        valley: get("tou_valley_kwh", map.tou_valley_kwh.as_ref())?,
    };
    let relay = match map.relay.as_ref().and_then(|r| r.read.as_ref()) {
        None => None,
        Some(read) => {
            let words = words_at(raw, read.function, read.address, 1).ok_or(ReadError::Decode {
                key: "relay",
                reason: "register not read".into(),
            })?;
            let value = words.first().copied().unwrap_or_default();
            Some(read.state(value).ok_or(ReadError::Decode {
                key: "relay",
                reason: format!(
                    "value {value} is neither open ({}) nor closed ({})",
                    read.open, read.closed
                ),
            })?)
        }
    };
    Ok(ReadingValues {
        energy_kwh: get("energy_kwh", map.energy_kwh.as_ref())?,
        tou_kwh: (tou != TouKwh::default()).then_some(tou),
        voltage_v: get("voltage_v", map.voltage_v.as_ref())?,
        current_a: get("current_a", map.current_a.as_ref())?,
        power_kw: get("power_kw", map.power_kw.as_ref())?,
        relay,
    })
}

/// Reads only the relay state, `None` when the map has no relay read.
pub async fn read_relay(
    link: &mut ModbusLink,
    slave: u8,
    map: &RegisterMap,
) -> Result<Option<RelayState>, ReadError> {
    let Some(read) = map.relay.as_ref().and_then(|r| r.read.as_ref()) else {
        return Ok(None);
    };
    let raw = read_block(
        link,
        slave,
        Block {
            function: read.function,
            start: read.address,
            count: 1,
        },
    )
    .await?;
    let value = raw.words.first().copied().unwrap_or_default();
    read.state(value).map(Some).ok_or(ReadError::Decode {
        key: "relay",
        reason: format!(
            "value {value} is neither open ({}) nor closed ({})",
            read.open, read.closed
        ),
    })
}

/// Writes the relay to `state` as the map says.
pub async fn write_relay(
    link: &mut ModbusLink,
    slave: u8,
    write: &RelayWrite,
    state: RelayState,
) -> Result<(), LinkError> {
    let value = match state {
        RelayState::Open => &write.open,
        RelayState::Closed => &write.closed,
    };
    let words = value.words();
    let request = match (write.function, words) {
        (RegisterFunction::Coil, [w]) => Request::WriteSingleCoil(write.address, *w != 0),
        (RegisterFunction::Holding, [w])
            if matches!(value, protocol::register_map::RelayWriteValue::Single(_)) =>
        {
            Request::WriteSingleRegister(write.address, *w)
        }
        (RegisterFunction::Holding, ws) => {
            Request::WriteMultipleRegisters(write.address, ws.to_vec().into())
        }
        (f, _) => {
            return Err(LinkError::Protocol(format!(
                "cannot write a relay through {f:?}"
            )))
        }
    };
    link.call(slave, request).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use protocol::MeterModel;

    #[test]
    fn acrel_is_one_ten_register_read() {
        let blocks = plan(&MeterModel::AcrelDdsy1352.register_map());
        assert_eq!(
            blocks,
            [Block {
                function: RegisterFunction::Holding,
                start: 0,
                count: 10
            }]
        );
    }

    #[test]
    fn separate_tables_and_gaps_make_separate_reads() {
        let blocks = plan(&MeterModel::EastronSdm120.register_map());
        // voltage 0x00 (2), current 0x06 (2), power 0x0C (2), energy 0x48 (2): no two touch.
        assert_eq!(blocks.len(), 4);
        assert!(blocks
            .iter()
            .all(|b| b.function == RegisterFunction::Input && b.count == 2));
    }

    #[test]
    fn decodes_acrel_words() {
        let map = MeterModel::AcrelDdsy1352.register_map();
        let raw = [RawBlock {
            block: plan(&map)[0],
            words: vec![0x0001, 0xE240, 0, 100, 0, 200, 0, 300, 0, 400],
        }];
        let v = decode(&map, &raw).unwrap();
        assert_eq!(v.energy_kwh.unwrap().to_string(), "1234.56");
        let tou = v.tou_kwh.unwrap();
        assert_eq!(tou.sharp.unwrap().to_string(), "1.00");
        assert_eq!(tou.valley.unwrap().to_string(), "4.00");
        assert_eq!(v.relay, None);
        assert_eq!(v.voltage_v, None);
    }
}
