//! What the cloud sends down: commands and configs, refused with a log line and a counter when
//! they are garbage, and never a reason to stop or disconnect.
//!
//! A command that cannot be parsed has no id to answer: it is logged and counted as
//! `rejected_commands`. A parsed command goes to its meter's bus (which applies the seq rules);
//! one for a meter this gateway does not have, or whose bus is overloaded, is answered `failed`
//! without touching the seq memory. A config that cannot be applied leaves the running one and
//! sets `config_error`.

use std::sync::atomic::Ordering;

use chrono::Utc;
use protocol::{CommandAck, Topic, TopicKind};

use crate::agent::AgentState;
use crate::shared::lock;

/// Where acks produced here go (the MQTT link's publish queue).
pub trait AckSink {
    fn ack(&mut self, ack: CommandAck);
}

/// Handles one incoming message; returns whether the status changed.
pub async fn handle(
    state: &mut AgentState,
    sink: &mut impl AckSink,
    topic: &str,
    payload: &[u8],
) -> bool {
    let kind = match Topic::parse(topic) {
        Ok(t) if t.gateway == state.config.gateway_id => t.kind,
        _ => {
            tracing::warn!(topic, "message on an unexpected topic ignored");
            return false;
        }
    };
    match kind {
        TopicKind::Commands => {
            let cmd = match protocol::decode_command(payload) {
                Ok(c) => c,
                Err(e) => {
                    state
                        .shared
                        .rejected_commands
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, bytes = payload.len(), "command rejected");
                    return true;
                }
            };
            state.shared.observe_cloud_time(cmd.issued_at, Utc::now());
            let Some(buses) = &state.buses else {
                return false;
            };
            if let Err(refused) = buses.route(cmd) {
                let (cmd, why) = *refused;
                tracing::warn!(command = %cmd.id, meter = %cmd.meter, why, "command not executed");
                sink.ack(crate::mqtt::refusal(&cmd, why));
            }
            false
        }
        TopicKind::Config => match state.apply_config(payload).await {
            Ok(applied) => applied,
            Err(why) => {
                tracing::warn!(reason = %why, "gateway config rejected; keeping the running one");
                *lock(&state.shared.config_error) = Some(why);
                true
            }
        },
        TopicKind::Readings | TopicKind::Acks | TopicKind::Status => false,
    }
}
