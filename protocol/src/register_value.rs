//! Turning raw Modbus registers into the decimal strings of a reading, by a [`RegisterSpec`].
//!
//! Shared so the agent and the meter simulator agree on the contract's rendering: integers are
//! scaled exactly (`u32` 123456 × `"0.01"` is `1234.56`); IEEE-754 values, which meters hand us
//! as floats whatever we think of floats, are taken at their shortest exact spelling (an f32
//! `230.1` is `230.1`, not `230.100006103515625`), scaled, and rendered to at most 4 decimal
//! places.

use std::str::FromStr;

use rust_decimal::Decimal;

use crate::reading::RelayState;
use crate::register_map::{RegisterSpec, RelayRead, ValueType, WordOrder};

/// Decimal places kept for values read as f32 or f64.
pub const FLOAT_DECIMAL_PLACES: u32 = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("expected {expected} registers, got {got}")]
    WordCount { expected: u16, got: usize },
    #[error("the meter sent a float that is not a number (NaN or infinite)")]
    NotFinite,
    #[error("value does not fit a decimal once scaled")]
    Overflow,
}

impl RegisterSpec {
    /// The value of `words` (as read, in register order), scaled.
    pub fn decode(&self, words: &[u16]) -> Result<Decimal, ValueError> {
        if words.len() != usize::from(self.words()) {
            return Err(ValueError::WordCount {
                expected: self.words(),
                got: words.len(),
            });
        }
        let fold = |acc: u64, w: &u16| (acc << 16) | u64::from(*w);
        let bits = match self.word_order() {
            WordOrder::Big => words.iter().fold(0, fold),
            WordOrder::Little => words.iter().rev().fold(0, fold),
        };
        // Every conversion below reinterprets exactly as many bits as the type has, which the
        // word count check above guarantees; the `try_from`s cannot fail.
        let narrow = |bits: u64| u32::try_from(bits).map_err(|_| ValueError::Overflow);
        let raw = match self.value_type {
            ValueType::U16 | ValueType::U32 | ValueType::U64 => Decimal::from(bits),
            ValueType::I16 => {
                let w = u16::try_from(bits).map_err(|_| ValueError::Overflow)?;
                Decimal::from(i16::from_be_bytes(w.to_be_bytes()))
            }
            ValueType::I32 => Decimal::from(i32::from_be_bytes(narrow(bits)?.to_be_bytes())),
            ValueType::F32 => return self.scale_float(&f32::from_bits(narrow(bits)?).to_string()),
            ValueType::F64 => return self.scale_float(&f64::from_bits(bits).to_string()),
        };
        raw.checked_mul(self.scale()).ok_or(ValueError::Overflow)
    }

    /// `spelled` is Rust's shortest round-trip rendering of the float (never an exponent).
    fn scale_float(&self, spelled: &str) -> Result<Decimal, ValueError> {
        if matches!(spelled, "NaN" | "inf" | "-inf") {
            return Err(ValueError::NotFinite);
        }
        let raw = Decimal::from_str(spelled).map_err(|_| ValueError::Overflow)?;
        let scaled = raw.checked_mul(self.scale()).ok_or(ValueError::Overflow)?;
        Ok(scaled.round_dp(FLOAT_DECIMAL_PLACES).normalize())
    }
}

impl RelayRead {
    /// The relay state a read-back value means, `None` for a value that is neither.
    pub fn state(&self, value: u16) -> Option<RelayState> {
        if value == self.open {
            Some(RelayState::Open)
        } else if value == self.closed {
            Some(RelayState::Closed)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register_map::RegisterFunction;

    fn spec(value_type: ValueType, word_order: Option<WordOrder>, scale: &str) -> RegisterSpec {
        RegisterSpec {
            function: RegisterFunction::Holding,
            address: 0,
            value_type,
            word_order,
            scale: Some(scale.parse().unwrap()),
        }
    }

    fn show(spec: &RegisterSpec, words: &[u16]) -> String {
        spec.decode(words).unwrap().to_string()
    }

    #[test]
    fn integers_scale_exactly() {
        // 123456 = 0x0001_E240
        let s = spec(ValueType::U32, None, "0.01");
        assert_eq!(show(&s, &[0x0001, 0xE240]), "1234.56");
        let s = spec(ValueType::U32, Some(WordOrder::Little), "0.01");
        assert_eq!(show(&s, &[0xE240, 0x0001]), "1234.56");
        assert_eq!(show(&spec(ValueType::I16, None, "0.1"), &[0xFFFF]), "-0.1");
        assert_eq!(
            show(&spec(ValueType::I32, None, "1"), &[0xFFFF, 0xFFFE]),
            "-2"
        );
        assert_eq!(
            show(
                &spec(ValueType::U64, None, "0.001"),
                &[0, 0, 0x0001, 0x0000]
            ),
            "65.536"
        );
    }

    #[test]
    fn floats_render_to_four_places_at_most() {
        let words = |v: f32| {
            let b = v.to_bits();
            [
                u16::try_from(b >> 16).unwrap(),
                u16::try_from(b & 0xFFFF).unwrap(),
            ]
        };
        let s = spec(ValueType::F32, None, "1");
        assert_eq!(show(&s, &words(230.1)), "230.1");
        assert_eq!(show(&s, &words(0.123_456)), "0.1235");
        assert_eq!(show(&s, &words(1_234_567.0)), "1234567");
        // DTSU666 power: 0.1 W units to kW.
        assert_eq!(
            show(&spec(ValueType::F32, None, "0.0001"), &words(2600.0)),
            "0.26"
        );
        assert_eq!(s.decode(&words(f32::NAN)), Err(ValueError::NotFinite));
        assert_eq!(
            s.decode(&[1]),
            Err(ValueError::WordCount {
                expected: 2,
                got: 1
            })
        );
        let b = 1234.5f64.to_bits();
        let w: Vec<u16> = (0..4)
            .rev()
            .map(|i| u16::try_from((b >> (16 * i)) & 0xFFFF).unwrap())
            .collect();
        assert_eq!(show(&spec(ValueType::F64, None, "1"), &w), "1234.5");
    }

    #[test]
    fn relay_read_back() {
        let read = RelayRead {
            function: RegisterFunction::Coil,
            address: 0,
            open: 0,
            closed: 1,
        };
        assert_eq!(read.state(0), Some(RelayState::Open));
        assert_eq!(read.state(1), Some(RelayState::Closed));
        assert_eq!(read.state(7), None);
    }
}
