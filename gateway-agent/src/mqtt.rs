//! The MQTT side of the agent: publishes queued reading batches, acks and the retained status
//! (with its last will), and receives commands and configs.
//!
//! One task owns both rumqttc's client and its event loop, so the order of our publish calls is
//! the order of rumqttc's `Outgoing::Publish(pkid)` events, which is how a PUBACK is matched to
//! the batch it acknowledges. A batch leaves the disk queue only on its PUBACK. Sessions are
//! clean: on every (re)connect everything unacknowledged is published again from the disk queue
//! (redelivery is harmless: `(gateway, batch)` is an idempotency key), and nothing is published
//! while disconnected. At most [`WINDOW`] batches are in flight, oldest first, so delivery keeps
//! the queue's order.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use protocol::{topic, AckStatus, AgentConfig, CommandAck, CommandId};
use rumqttc::{
    AsyncClient, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS, Transport,
};
use tokio::sync::mpsc;

use crate::agent::AgentState;
use crate::command_log::ack;
use crate::shared::lock;

/// Reading batches in flight at once.
pub const WINDOW: usize = 8;
/// Incoming packets above this are refused by rumqttc (and cost a reconnect). Set well above
/// the contract's 256 KiB so an oversized message is refused by the protocol's size check
/// with a log line, while the connection stays up.
const MAX_INCOMING_PACKET: usize = 4 * 1024 * 1024;
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tag {
    Batch(u64),
    Ack(CommandId),
    Status,
}

/// `mqtt[s]://host[:port]` → (tls, host, port).
pub fn parse_url(url: &str) -> anyhow::Result<(bool, String, u16)> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("mqtt://") {
        (false, r)
    } else {
        anyhow::bail!("mqtt url {url:?} must start with mqtt:// or mqtts://");
    };
    let rest = rest.trim_end_matches('/');
    let default_port = if tls { 8883 } else { 1883 };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h.trim_matches(['[', ']']).to_owned(),
            p.parse().context("mqtt url port")?,
        ),
        _ => (rest.to_owned(), default_port),
    };
    anyhow::ensure!(!host.is_empty(), "mqtt url {url:?} has no host");
    Ok((tls, host, port))
}

fn options(config: &AgentConfig, will: Vec<u8>) -> anyhow::Result<MqttOptions> {
    let (tls, host, port) = parse_url(&config.mqtt.url)?;
    let mut opts = MqttOptions::new(config.client_id(), host, port);
    opts.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(
            MAX_INCOMING_PACKET,
            protocol::wire::MAX_PAYLOAD_BYTES + 4096,
        )
        .set_inflight(100)
        .set_last_will(LastWill::new(
            topic::status(&config.gateway_id),
            will,
            QoS::AtLeastOnce,
            true,
        ));
    if let Some(user) = &config.mqtt.username {
        let password = match &config.mqtt.password_file {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("reading password_file {}", p.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_owned(),
            None => String::new(),
        };
        opts.set_credentials(user, password);
    }
    if tls {
        let transport = match &config.mqtt.ca_file {
            Some(ca) => Transport::tls(
                std::fs::read(ca).with_context(|| format!("reading ca_file {}", ca.display()))?,
                None,
                None,
            ),
            None => Transport::tls_with_default_config(),
        };
        opts.set_transport(transport);
    }
    Ok(opts)
}

struct Link {
    client: AsyncClient,
    connected: bool,
    /// Tags of publish calls not yet seen as `Outgoing::Publish`, in call order.
    expected: VecDeque<Tag>,
    by_pkid: HashMap<u16, Tag>,
    /// Batches published on this connection and not yet acknowledged.
    sent: BTreeSet<u64>,
    /// Acks to publish, and those published but not yet acknowledged.
    unsent_acks: VecDeque<CommandAck>,
    inflight_acks: HashMap<CommandId, CommandAck>,
    status_due: bool,
}

impl Link {
    fn publish(&mut self, topic: String, payload: Vec<u8>, retain: bool, tag: Tag) -> bool {
        match self
            .client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload)
        {
            Ok(()) => {
                self.expected.push_back(tag);
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "publish deferred");
                false
            }
        }
    }

    /// Publishes what is due, within the window.
    fn pump(&mut self, state: &AgentState) {
        if !self.connected {
            return;
        }
        let gw = &state.config.gateway_id;
        if self.status_due {
            let status = state.shared.status(true, Utc::now());
            match protocol::encode(&status) {
                Ok(p) => {
                    if self.publish(topic::status(gw), p, true, Tag::Status) {
                        self.status_due = false;
                    }
                }
                Err(e) => tracing::error!(error = %e, "status not encodable"),
            }
        }
        while let Some(a) = self.unsent_acks.pop_front() {
            let Ok(p) = protocol::encode(&a) else {
                continue;
            };
            if !self.publish(topic::acks(gw), p, false, Tag::Ack(a.id.clone())) {
                self.unsent_acks.push_front(a);
                return;
            }
            self.inflight_acks.insert(a.id.clone(), a);
        }
        let due: Vec<u64> = {
            let q = lock(&state.shared.queue);
            q.batches()
                .filter(|b| !self.sent.contains(b))
                .take(WINDOW.saturating_sub(self.sent.len()))
                .collect()
        };
        for batch in due {
            let payload = match lock(&state.shared.queue).payload(batch) {
                Ok(Some(p)) => p,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(error = %e, batch, "queued batch unreadable");
                    continue;
                }
            };
            if !self.publish(topic::readings(gw), payload, false, Tag::Batch(batch)) {
                return;
            }
            self.sent.insert(batch);
        }
    }

    fn on_connected(&mut self, gw: &protocol::GatewayId) {
        self.connected = true;
        self.expected.clear();
        self.by_pkid.clear();
        self.sent.clear();
        let mut again: Vec<CommandAck> = self.inflight_acks.drain().map(|(_, a)| a).collect();
        again.sort_by_key(|a| a.ts);
        for a in again.into_iter().rev() {
            self.unsent_acks.push_front(a);
        }
        self.status_due = true;
        if let Err(e) = self
            .client
            .try_subscribe(topic::agent_filter(gw), QoS::AtLeastOnce)
        {
            tracing::error!(error = %e, "could not subscribe");
        }
    }
}

/// Runs the MQTT side until `shutdown`; publishes the offline status on the way out.
pub async fn run(
    state: &mut AgentState,
    mut acks: mpsc::UnboundedReceiver<CommandAck>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let will = protocol::encode(&state.shared.status(false, Utc::now()))?;
    let opts = options(&state.config, will)?;
    let (client, mut events): (AsyncClient, EventLoop) = AsyncClient::new(opts, 256);
    let mut link = Link {
        client,
        connected: false,
        expected: VecDeque::new(),
        by_pkid: HashMap::new(),
        sent: BTreeSet::new(),
        unsent_acks: VecDeque::new(),
        inflight_acks: HashMap::new(),
        status_due: true,
    };
    let mut status_tick = tokio::time::interval(state.config.status_interval().as_std());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            event = events.poll() => match event {
                Ok(event) => handle_event(state, &mut link, event).await,
                Err(e) => {
                    if link.connected {
                        tracing::warn!(error = %e, "mqtt connection lost");
                    } else {
                        tracing::debug!(error = %e, "mqtt connect failed");
                    }
                    link.connected = false;
                    tokio::time::sleep(RECONNECT_DELAY).await;
                }
            },
            Some(a) = acks.recv() => link.unsent_acks.push_back(a),
            () = state.shared.queued.notified() => {}
            _ = status_tick.tick() => link.status_due = true,
        }
        link.pump(state);
    }
    if link.connected {
        // Say goodbye properly: the retained status goes offline without waiting for the will.
        if let Ok(p) = protocol::encode(&state.shared.status(false, Utc::now())) {
            let _ = link.client.try_publish(
                topic::status(&state.config.gateway_id),
                QoS::AtLeastOnce,
                true,
                p,
            );
            let _ = link.client.try_disconnect();
            let drain = async {
                while let Ok(ev) = events.poll().await {
                    if matches!(ev, Event::Outgoing(Outgoing::Disconnect)) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        }
    }
    Ok(())
}

async fn handle_event(state: &mut AgentState, link: &mut Link, event: Event) {
    match event {
        Event::Incoming(Packet::ConnAck(_)) => {
            tracing::info!("mqtt connected");
            link.on_connected(&state.config.gateway_id);
        }
        Event::Outgoing(Outgoing::Publish(pkid)) => {
            if let Some(tag) = link.expected.pop_front() {
                link.by_pkid.insert(pkid, tag);
            }
        }
        Event::Outgoing(Outgoing::AwaitAck(pkid)) => {
            // Only if the broker acks far out of order; the publish goes out later untracked,
            // so drop its tag: a batch is then published again (harmless).
            tracing::warn!(pkid, "mqtt packet id collision");
            if let Some(Tag::Batch(b)) = link.expected.pop_front() {
                link.sent.remove(&b);
            }
        }
        Event::Incoming(Packet::PubAck(p)) => match link.by_pkid.remove(&p.pkid) {
            Some(Tag::Batch(b)) => {
                link.sent.remove(&b);
                let removed = lock(&state.shared.queue).remove(b);
                if let Err(e) = removed {
                    tracing::error!(error = %e, batch = b, "could not remove a delivered batch");
                }
            }
            Some(Tag::Ack(id)) => {
                link.inflight_acks.remove(&id);
            }
            Some(Tag::Status) | None => {}
        },
        Event::Incoming(Packet::Publish(p)) => {
            let changed = crate::downlink::handle(state, link, &p.topic, &p.payload).await;
            link.status_due |= changed;
        }
        _ => {}
    }
}

impl crate::downlink::AckSink for Link {
    fn ack(&mut self, a: CommandAck) {
        self.unsent_acks.push_back(a);
    }
}

/// An ack for a command that could not reach its meter.
pub fn refusal(cmd: &protocol::Command, detail: &str) -> CommandAck {
    ack(
        cmd,
        AckStatus::Failed,
        None,
        Some(detail.to_owned()),
        Utc::now(),
    )
}
