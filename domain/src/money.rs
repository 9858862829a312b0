//! Money (yuan) and energy (kWh) as exact decimals.
//!
//! This is the one place where amounts cross between representations: integer fen and Wh (what
//! the database stores), API strings (`^\d+(\.\d{1,2})?$`), and `Decimal`. Rounding is half-up
//! (away from zero on a midpoint) to the fen or the Wh. There are no floats here, by design:
//! serde reads and writes both types as decimal strings only.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Half-up rounding as our rules mean it: a midpoint goes away from zero.
const HALF_UP: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;

/// Why an amount could not be parsed or converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be digits with an optional point and one or two decimals, like 37.50")]
    Malformed,
    #[error("amount has more than two decimals")]
    TooManyDecimals,
    #[error("amount is out of range")]
    OutOfRange,
}

/// Why an energy value could not be converted to integer Wh.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnergyError {
    #[error("energy is out of range for integer Wh")]
    OutOfRange,
}

/// An amount of money in yuan. May be negative (an overdraft, a reversal).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(#[serde(with = "rust_decimal::serde::str")] Decimal);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Wraps an exact yuan amount as is (no rounding; see [`Money::round_fen`]).
    pub const fn new(yuan: Decimal) -> Self {
        Money(yuan)
    }

    /// Yuan from integer fen (1 yuan = 100 fen).
    pub fn from_fen(fen: i64) -> Self {
        Money(Decimal::new(fen, 2))
    }

    /// Integer fen, rounding half-up to the fen first.
    pub fn to_fen(self) -> Result<i64, MoneyError> {
        let mut rounded = self.0.round_dp_with_strategy(2, HALF_UP);
        rounded.rescale(2);
        if rounded.scale() != 2 {
            return Err(MoneyError::OutOfRange);
        }
        i64::try_from(rounded.mantissa()).map_err(|_| MoneyError::OutOfRange)
    }

    /// Parses an API amount: `^\d+(\.\d{1,2})?$`, no sign, no exponent, at most 2 decimals.
    pub fn parse_amount(input: &str) -> Result<Self, MoneyError> {
        let (whole, fraction) = match input.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (input, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
            return Err(MoneyError::Malformed);
        }
        if fraction.is_some_and(|f| f.len() > 2) {
            return Err(MoneyError::TooManyDecimals);
        }
        // Decimal holds 28 digits; far more than any real amount, so longer input is refused
        // rather than silently rounded.
        if whole.trim_start_matches('0').len() > 15 {
            return Err(MoneyError::OutOfRange);
        }
        input
            .parse::<Decimal>()
            .map(Money)
            .map_err(|_| MoneyError::OutOfRange)
    }

    /// Rounded half-up to the fen.
    #[must_use]
    pub fn round_fen(self) -> Self {
        Money(self.0.round_dp_with_strategy(2, HALF_UP))
    }

    /// The exact amount in yuan.
    pub const fn yuan(self) -> Decimal {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }
}

impl fmt::Display for Money {
    /// Always exactly two decimals, rounded half-up: `37.50`, `-3.20`, `0.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rounded = self.0.round_dp_with_strategy(2, HALF_UP);
        if rounded.is_zero() {
            // A negative zero would print as "-0.00".
            rounded = Decimal::ZERO;
        }
        rounded.rescale(2);
        write!(f, "{rounded}")
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 += rhs.0;
    }
}

impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Money) {
        self.0 -= rhs.0;
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl<'a> Sum<&'a Money> for Money {
    fn sum<I: Iterator<Item = &'a Money>>(iter: I) -> Money {
        iter.copied().sum()
    }
}

/// An amount of energy in kWh (exact; meter registers, consumption, tier bounds).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Energy(#[serde(with = "rust_decimal::serde::str")] Decimal);

impl Energy {
    pub const ZERO: Energy = Energy(Decimal::ZERO);

    pub const fn new(kwh: Decimal) -> Self {
        Energy(kwh)
    }

    /// kWh from integer Wh (1 kWh = 1000 Wh).
    pub fn from_wh(wh: i64) -> Self {
        Energy(Decimal::new(wh, 3))
    }

    /// Integer Wh, rounding half-up to the Wh first.
    pub fn to_wh(self) -> Result<i64, EnergyError> {
        let mut rounded = self.0.round_dp_with_strategy(3, HALF_UP);
        rounded.rescale(3);
        if rounded.scale() != 3 {
            return Err(EnergyError::OutOfRange);
        }
        i64::try_from(rounded.mantissa()).map_err(|_| EnergyError::OutOfRange)
    }

    /// The exact value in kWh.
    pub const fn kwh(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Energy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.normalize())
    }
}

impl Add for Energy {
    type Output = Energy;
    fn add(self, rhs: Energy) -> Energy {
        Energy(self.0 + rhs.0)
    }
}

impl Sub for Energy {
    type Output = Energy;
    fn sub(self, rhs: Energy) -> Energy {
        Energy(self.0 - rhs.0)
    }
}

impl Neg for Energy {
    type Output = Energy;
    fn neg(self) -> Energy {
        Energy(-self.0)
    }
}

impl AddAssign for Energy {
    fn add_assign(&mut self, rhs: Energy) {
        self.0 += rhs.0;
    }
}

impl SubAssign for Energy {
    fn sub_assign(&mut self, rhs: Energy) {
        self.0 -= rhs.0;
    }
}

impl Sum for Energy {
    fn sum<I: Iterator<Item = Energy>>(iter: I) -> Energy {
        iter.fold(Energy::ZERO, Add::add)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn fen_round_trip_and_half_up() {
        assert_eq!(Money::from_fen(3750).to_string(), "37.50");
        assert_eq!(Money::from_fen(-320).to_string(), "-3.20");
        assert_eq!(Money::new(dec!(0.125)).to_fen().unwrap(), 13);
        assert_eq!(Money::new(dec!(-0.125)).to_fen().unwrap(), -13);
        assert_eq!(Money::new(dec!(0.1249)).to_fen().unwrap(), 12);
        assert_eq!(Money::new(dec!(0.005)).round_fen(), Money::new(dec!(0.01)));
        assert_eq!(Money::new(dec!(-0.001)).to_string(), "0.00");
        assert_eq!(Money::new(dec!(12)).to_string(), "12.00");
    }

    #[test]
    fn parse_amount_accepts_only_the_api_shape() {
        assert_eq!(Money::parse_amount("37.5").unwrap(), Money::from_fen(3750));
        assert_eq!(Money::parse_amount("0").unwrap(), Money::ZERO);
        assert_eq!(
            Money::parse_amount("100.00").unwrap(),
            Money::from_fen(10000)
        );
        for bad in [
            "", "-1", "+1", "1.", ".5", "1e3", " 1", "1,00", "abc", "1.2.3",
        ] {
            assert_eq!(
                Money::parse_amount(bad),
                Err(MoneyError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            Money::parse_amount("1.234"),
            Err(MoneyError::TooManyDecimals)
        );
        assert_eq!(
            Money::parse_amount("99999999999999999999"),
            Err(MoneyError::OutOfRange)
        );
    }

    #[test]
    fn serde_uses_strings_only() {
        let json = serde_json::to_string(&Money::from_fen(3750)).unwrap();
        assert_eq!(json, "\"37.50\"");
        assert_eq!(
            serde_json::from_str::<Money>("\"-3.2\"").unwrap(),
            Money::from_fen(-320)
        );
        assert!(serde_json::from_str::<Money>("37.5").is_err());
        let e: Energy = serde_json::from_str("\"1234.567\"").unwrap();
        assert_eq!(e.to_wh().unwrap(), 1_234_567);
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"1234.567\"");
    }

    #[test]
    fn energy_wh_round_trip_and_sum() {
        assert_eq!(Energy::from_wh(1500).kwh(), dec!(1.5));
        assert_eq!(Energy::new(dec!(0.0005)).to_wh().unwrap(), 1);
        let total: Energy = [Energy::from_wh(1), Energy::from_wh(2)].into_iter().sum();
        assert_eq!(total, Energy::from_wh(3));
        let money: Money = [Money::from_fen(1), -Money::from_fen(3)].iter().sum();
        assert_eq!(money, Money::from_fen(-2));
    }
}
