//! `Command` (cloud → agent on `down/commands`) and `CommandAck` (agent → cloud on `up/acks`).
//!
//! A command targets one meter with a per-meter `seq`. The agent checks `seq` first, then
//! `expires_at`; it executes a seq at most once and answers a resend of the same `id` and `seq`
//! with the stored ack. `relay` in an ack is the state read back, or null when nothing was read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{CommandId, MeterId};
use crate::reading::RelayState;
use crate::wire::V1;

/// One instruction to one meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub v: V1,
    pub id: CommandId,
    pub meter: MeterId,
    pub seq: u64,
    pub action: Action,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Parameters of a `set_params` command, by name, values as strings. Absent for every other
    /// action. (Not in the v1 examples; receivers that ignore unknown fields are unaffected.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<BTreeMap<String, String>>,
}

impl Command {
    /// Whether the command may no longer be executed at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}

/// What a command asks the meter to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Open the relay: cut the power.
    Trip,
    /// Close the relay: restore the power.
    Close,
    AlarmOn,
    AlarmOff,
    /// Read the meter now and publish a reading.
    ReadNow,
    SyncTime,
    /// Write meter parameters (for meters that keep them), given in `params`.
    SetParams,
}

impl Action {
    /// The relay state a successful trip or close must read back, if the action moves the relay.
    pub fn expected_relay(self) -> Option<RelayState> {
        match self {
            Self::Trip => Some(RelayState::Open),
            Self::Close => Some(RelayState::Closed),
            _ => None,
        }
    }
}

/// The agent's answer to a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandAck {
    pub v: V1,
    pub id: CommandId,
    pub meter: MeterId,
    pub seq: u64,
    pub status: AckStatus,
    /// The relay state read back after executing, null when nothing was read.
    #[serde(default)]
    pub relay: Option<RelayState>,
    /// A human-readable reason (for `failed`, `unsupported`, ...), null when there is none.
    #[serde(default)]
    pub detail: Option<String>,
    pub ts: DateTime<Utc>,
}

/// Outcome of a command on the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    Executed,
    /// Another command already used this seq or a higher one; not executed.
    Duplicate,
    Failed,
    /// Arrived after `expires_at`; not executed.
    Expired,
    /// The meter's map cannot do this action; not executed.
    Unsupported,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_use_the_contract_names() {
        let names: Vec<String> = [
            Action::Trip,
            Action::Close,
            Action::AlarmOn,
            Action::AlarmOff,
            Action::ReadNow,
            Action::SyncTime,
            Action::SetParams,
        ]
        .iter()
        .map(|a| serde_json::to_string(a).unwrap())
        .collect();
        assert_eq!(
            names,
            [
                "\"trip\"",
                "\"close\"",
                "\"alarm_on\"",
                "\"alarm_off\"",
                "\"read_now\"",
                "\"sync_time\"",
                "\"set_params\""
            ]
        );
        assert!(serde_json::from_str::<Action>("\"reboot\"").is_err());
    }

    #[test]
    fn expiry_and_expected_relay() {
        let c: Command = serde_json::from_str(
            r#"{"v":1,"id":"c1","meter":"m-1","seq":3,"action":"trip",
                "issued_at":"2026-11-21T08:00:00Z","expires_at":"2026-11-21T08:10:00Z"}"#,
        )
        .unwrap();
        assert!(!c.is_expired("2026-11-21T08:09:59Z".parse().unwrap()));
        assert!(c.is_expired("2026-11-21T08:10:00Z".parse().unwrap()));
        assert_eq!(c.action.expected_relay(), Some(RelayState::Open));
        assert_eq!(Action::ReadNow.expected_relay(), None);
    }

    #[test]
    fn ack_serialises_null_relay_and_detail() {
        let ack = CommandAck {
            v: V1,
            id: CommandId::parse("c1").unwrap(),
            meter: MeterId::parse("m-1").unwrap(),
            seq: 3,
            status: AckStatus::Unsupported,
            relay: None,
            detail: None,
            ts: "2026-11-21T08:00:01Z".parse().unwrap(),
        };
        assert_eq!(
            serde_json::to_string(&ack).unwrap(),
            r#"{"v":1,"id":"c1","meter":"m-1","seq":3,"status":"unsupported","relay":null,"detail":null,"ts":"2026-11-21T08:00:01Z"}"#
        );
    }
}
