//! Decimals on the wire: always a JSON (or TOML) string of plain digits, `"1234.56"`.
//!
//! A number is refused, not converted: a float on the wire has already lost the exactness the
//! ledger depends on, and accepting it would let a sloppy producer drift unnoticed. The grammar is
//! `-?[0-9]+(\.[0-9]+)?` (no exponent, no `+`, no spaces, no `_`), and the scale written is kept,
//! so `"1.20"` goes back out as `"1.20"`. Use with `#[serde(with = "crate::decimal")]` or
//! `#[serde(with = "crate::decimal::option")]`.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serializer};

/// Parses a wire decimal string, `None` when it breaks the grammar or does not fit a `Decimal`.
pub fn parse(s: &str) -> Option<Decimal> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (digits, None),
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    Decimal::from_str(s).ok()
}

fn de_str<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    // `String::deserialize` refuses numbers in every format, which is the point.
    let s = String::deserialize(deserializer)?;
    parse(&s).ok_or_else(|| {
        serde::de::Error::custom(format_args!(
            "invalid decimal string {s:?}: expected digits like \"1234.56\""
        ))
    })
}

pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    de_str(deserializer)
}

/// The same for `Option<Decimal>`; pair with `default` and `skip_serializing_if`.
pub mod option {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` hands us `&Option<T>`
    pub fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.collect_str(v),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super")] Decimal);
        Ok(Option::<Wrap>::deserialize(deserializer)?.map(|Wrap(d)| d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Serialize, Deserialize, PartialEq)]
    struct T {
        #[serde(with = "crate::decimal")]
        a: Decimal,
        #[serde(default, with = "option", skip_serializing_if = "Option::is_none")]
        b: Option<Decimal>,
    }

    #[test]
    fn keeps_the_written_scale() {
        let t: T = serde_json::from_str(r#"{"a":"1.20","b":"-0.001"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"a":"1.20","b":"-0.001"}"#
        );
        let t: T = serde_json::from_str(r#"{"a":"7"}"#).unwrap();
        assert_eq!(t.b, None);
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"a":"7"}"#);
    }

    #[test]
    fn refuses_numbers_and_odd_strings() {
        for bad in [
            r#"{"a":1.5}"#,
            r#"{"a":2}"#,
            r#"{"a":"1e3"}"#,
            r#"{"a":"+1"}"#,
            r#"{"a":" 1"}"#,
            r#"{"a":"1."}"#,
            r#"{"a":".5"}"#,
            r#"{"a":"1_000"}"#,
            r#"{"a":""}"#,
            r#"{"a":"NaN"}"#,
            r#"{"a":"1","b":0.5}"#,
        ] {
            assert!(serde_json::from_str::<T>(bad).is_err(), "{bad}");
        }
        assert!(parse("99999999999999999999999999999999999").is_none());
    }
}
