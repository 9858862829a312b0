//! MQTT topics of contract version 1 and the subscription filters of each side.
//!
//! Every topic is `wattpay/v1/gw/{gateway}/{up|down}/{kind}`. Gateways publish only under their
//! own `up/` and subscribe only to their own `down/` (the broker ACL enforces it); workers
//! share one subscription to every gateway's `up/`. All messages use QoS 1.

use std::fmt;

use crate::id::{GatewayId, IdError};

/// Topic prefix shared by every message of contract version 1.
pub const PREFIX: &str = "wattpay/v1/gw";

/// The QoS of every message of the contract: at least once, deduplicated by idempotency keys.
pub const QOS: u8 = 1;

/// What the workers subscribe to: a shared subscription so several workers split the load.
pub const WORKER_SHARED_FILTER: &str = "$share/wattpay-workers/wattpay/v1/gw/+/up/#";

/// The same uplink filter without the shared-subscription prefix, for a single worker on a
/// broker without shared subscriptions.
pub const UPLINK_FILTER: &str = "wattpay/v1/gw/+/up/#";

/// Which message a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// `up/readings`: `ReadingBatch`, agent → cloud.
    Readings,
    /// `up/acks`: `CommandAck`, agent → cloud.
    Acks,
    /// `up/status`: `GatewayStatus`, agent → cloud, retained, also the last will.
    Status,
    /// `down/commands`: `Command`, cloud → agent.
    Commands,
    /// `down/config`: `GatewayConfig`, cloud → agent, retained.
    Config,
}

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Agent → cloud (`up/`).
    Up,
    /// Cloud → agent (`down/`).
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

impl TopicKind {
    pub const ALL: [Self; 5] = [
        Self::Readings,
        Self::Acks,
        Self::Status,
        Self::Commands,
        Self::Config,
    ];

    pub fn direction(self) -> Direction {
        match self {
            Self::Readings | Self::Acks | Self::Status => Direction::Up,
            Self::Commands | Self::Config => Direction::Down,
        }
    }

    /// The last path segment of the topic.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Readings => "readings",
            Self::Acks => "acks",
            Self::Status => "status",
            Self::Commands => "commands",
            Self::Config => "config",
        }
    }

    /// Whether messages of this kind are published retained (status and config are, so a
    /// newcomer sees the current state at once).
    pub fn retained(self) -> bool {
        matches!(self, Self::Status | Self::Config)
    }
}

/// A parsed topic: which gateway and which message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic {
    pub gateway: GatewayId,
    pub kind: TopicKind,
}

/// Why a string is not a topic of contract version 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("topic {0:?} is not under `wattpay/v1/gw/`")]
    NotWattpayV1(String),
    #[error("topic {topic:?} has a bad gateway id: {source}")]
    BadGateway { topic: String, source: IdError },
    #[error("topic {0:?} is not `.../{{gateway}}/up/readings|acks|status` or `.../down/commands|config`")]
    UnknownKind(String),
}

impl Topic {
    pub fn new(gateway: GatewayId, kind: TopicKind) -> Self {
        Self { gateway, kind }
    }

    /// Parses a topic name as a message arrives on it (never a filter with wildcards).
    pub fn parse(topic: &str) -> Result<Self, TopicError> {
        let rest = topic
            .strip_prefix(PREFIX)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| TopicError::NotWattpayV1(topic.to_owned()))?;
        let mut parts = rest.split('/');
        let (Some(gateway), Some(direction), Some(kind), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TopicError::UnknownKind(topic.to_owned()));
        };
        let gateway = GatewayId::parse(gateway).map_err(|source| TopicError::BadGateway {
            topic: topic.to_owned(),
            source,
        })?;
        let kind = TopicKind::ALL
            .into_iter()
            .find(|k| k.direction().as_str() == direction && k.as_str() == kind)
            .ok_or_else(|| TopicError::UnknownKind(topic.to_owned()))?;
        Ok(Self { gateway, kind })
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}/{}/{}/{}",
            self.gateway,
            self.kind.direction().as_str(),
            self.kind.as_str()
        )
    }
}

/// `wattpay/v1/gw/{gateway}/up/readings`
pub fn readings(gateway: &GatewayId) -> String {
    Topic::new(gateway.clone(), TopicKind::Readings).to_string()
}

/// `wattpay/v1/gw/{gateway}/up/acks`
pub fn acks(gateway: &GatewayId) -> String {
    Topic::new(gateway.clone(), TopicKind::Acks).to_string()
}

/// `wattpay/v1/gw/{gateway}/up/status`
pub fn status(gateway: &GatewayId) -> String {
    Topic::new(gateway.clone(), TopicKind::Status).to_string()
}

/// `wattpay/v1/gw/{gateway}/down/commands`
pub fn commands(gateway: &GatewayId) -> String {
    Topic::new(gateway.clone(), TopicKind::Commands).to_string()
}

/// `wattpay/v1/gw/{gateway}/down/config`
pub fn config(gateway: &GatewayId) -> String {
    Topic::new(gateway.clone(), TopicKind::Config).to_string()
}

/// What a gateway agent subscribes to: everything the cloud sends it, `.../gw/{gateway}/down/#`.
pub fn agent_filter(gateway: &GatewayId) -> String {
    format!("{PREFIX}/{gateway}/down/#")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gw() -> GatewayId {
        GatewayId::parse("gw-0001").unwrap()
    }

    #[test]
    fn builders_match_the_contract() {
        let g = gw();
        assert_eq!(readings(&g), "wattpay/v1/gw/gw-0001/up/readings");
        assert_eq!(acks(&g), "wattpay/v1/gw/gw-0001/up/acks");
        assert_eq!(status(&g), "wattpay/v1/gw/gw-0001/up/status");
        assert_eq!(commands(&g), "wattpay/v1/gw/gw-0001/down/commands");
        assert_eq!(config(&g), "wattpay/v1/gw/gw-0001/down/config");
        assert_eq!(agent_filter(&g), "wattpay/v1/gw/gw-0001/down/#");
        assert_eq!(
            WORKER_SHARED_FILTER,
            format!("$share/wattpay-workers/{UPLINK_FILTER}")
        );
    }

    #[test]
    fn parse_round_trips_every_kind() {
        for kind in TopicKind::ALL {
            let topic = Topic::new(gw(), kind);
            assert_eq!(Topic::parse(&topic.to_string()), Ok(topic));
        }
    }

    #[test]
    fn retained_and_direction() {
        assert!(TopicKind::Status.retained());
        assert!(TopicKind::Config.retained());
        assert!(!TopicKind::Readings.retained());
        assert_eq!(TopicKind::Acks.direction(), Direction::Up);
        assert_eq!(TopicKind::Commands.direction(), Direction::Down);
    }

    #[test]
    fn parse_rejects_with_typed_errors() {
        for t in [
            "wattpay/v2/gw/gw-0001/up/readings",
            "wattpay/v1/gwx/gw-0001/up/acks",
            "",
        ] {
            assert_eq!(Topic::parse(t), Err(TopicError::NotWattpayV1(t.to_owned())));
        }
        assert!(matches!(
            Topic::parse("wattpay/v1/gw/GW-1/up/readings"),
            Err(TopicError::BadGateway { .. })
        ));
        assert!(matches!(
            Topic::parse("wattpay/v1/gw/+/up/readings"),
            Err(TopicError::BadGateway { .. })
        ));
        for t in [
            "wattpay/v1/gw/gw-0001/up/commands",
            "wattpay/v1/gw/gw-0001/down/readings",
            "wattpay/v1/gw/gw-0001/up/readings/extra",
            "wattpay/v1/gw/gw-0001/up",
            "wattpay/v1/gw/gw-0001/up/#",
        ] {
            assert_eq!(
                Topic::parse(t),
                Err(TopicError::UnknownKind(t.to_owned())),
                "{t}"
            );
        }
    }
}
