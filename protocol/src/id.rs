//! Identifiers that travel on the wire: gateway ids, meter wire ids and command ids.
//!
//! Each is a newtype built only through `parse` (serde goes through it too), so a value of the
//! type is always valid. Gateway ids end up inside MQTT topics, so their alphabet excludes every
//! character MQTT gives a meaning to (`/`, `+`, `#`, `$`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("gateway id {0:?} is not `gw-` followed by 1 to 61 lowercase letters or digits")]
    Gateway(String),
    #[error("meter id {0:?} does not match [A-Za-z0-9_-]{{1,64}}")]
    Meter(String),
    #[error("command id {0:?} does not match [A-Za-z0-9_-]{{1,64}}")]
    Command(String),
}

/// Longest gateway id we accept: keeps topics short and fits a broker username.
const GATEWAY_ID_MAX_LEN: usize = 64;
/// Longest meter or command id (the contract's `{1,64}`).
const WIRE_ID_MAX_LEN: usize = 64;

fn is_wire_id(s: &str) -> bool {
    (1..=WIRE_ID_MAX_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A gateway id assigned by the platform: `gw-` and lowercase letters and digits (`gw-0001`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct GatewayId(String);

impl GatewayId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let valid = s.len() <= GATEWAY_ID_MAX_LEN
            && s.strip_prefix("gw-").is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Gateway(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A meter's wire id (`meter` in readings, commands and acks): `[A-Za-z0-9_-]{1,64}`, unique
/// within its gateway.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct MeterId(String);

impl MeterId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if is_wire_id(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Meter(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A command's id, chosen by the cloud (a UUID in practice); the agent echoes it in the ack.
/// Restricted to the same alphabet as meter ids so it is safe as a file name in the agent's
/// on-disk ack store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct CommandId(String);

impl CommandId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if is_wire_id(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Command(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_id_impls {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id_impls!(GatewayId);
string_id_impls!(MeterId);
string_id_impls!(CommandId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_ids() {
        assert!(GatewayId::parse("gw-0001").is_ok());
        assert!(GatewayId::parse("gw-a1b2").is_ok());
        for bad in [
            "gw-", "gw-ABC", "gw-a_b", "gw0001", "xx-0001", "gw-a/b", "gw-+", "",
        ] {
            assert_eq!(
                GatewayId::parse(bad),
                Err(IdError::Gateway(bad.to_owned())),
                "{bad}"
            );
        }
        assert!(GatewayId::parse(&format!("gw-{}", "a".repeat(61))).is_ok());
        assert!(GatewayId::parse(&format!("gw-{}", "a".repeat(62))).is_err());
    }

    #[test]
    fn meter_ids() {
        assert!(MeterId::parse("m-101").is_ok());
        assert!(MeterId::parse("Unit_7-B").is_ok());
        assert!(MeterId::parse(&"x".repeat(64)).is_ok());
        for bad in ["", "m 101", "m/101", "m.101", "电表1", &"x".repeat(65)] {
            assert_eq!(MeterId::parse(bad), Err(IdError::Meter(bad.to_owned())));
        }
    }

    #[test]
    fn serde_goes_through_parse() {
        let id: MeterId = serde_json::from_str("\"m-101\"").unwrap();
        assert_eq!(id.as_str(), "m-101");
        let err = serde_json::from_str::<MeterId>("\"m 101\"").unwrap_err();
        assert!(err.to_string().contains("meter id"), "{err}");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"m-101\"");
    }
}
