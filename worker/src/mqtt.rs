//! The worker's MQTT connection: one client per worker with a stable client id and a
//! persistent session (MQTT 5 with a bounded session expiry; 3.1.1 keeps the session until the
//! client returns), the shared subscription `$share/wattpay-workers/wattpay/v1/gw/+/up/#` at
//! QoS 1, and manual acks: a message is acknowledged only once handled (or refused as
//! invalid), so nothing is lost while a worker is down or restarting.
//!
//! `mqtts://` URLs connect over TLS, checking the broker's certificate against `mqtt_ca_file`
//! (or the system's CA certificates).
//!
//! Messages wait in one inbox; the ingester takes everything waiting (up to [`FLUSH_MESSAGES`]
//! messages or [`FLUSH_BYTES`]) as one flush and stores the readings of all its messages in
//! multi-row statements: under load, what queued while the previous flush ran makes the next
//! one bigger, so the database sees few large statements instead of many small ones. A
//! transient failure (the database away) is retried until it succeeds; then the flush's
//! messages are acknowledged, in the order they were received (MQTT requires PUBACKs in order,
//! and a broker only sends a bounded window of unacknowledged messages: acknowledging right
//! after storing keeps that window moving for every gateway). Storing is the cheap part;
//! fairness between gateways is kept where the work is, in rating (see `rating`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use tokio::task::JoinSet;

use crate::publisher::Publisher;
use crate::settings::Settings;
use crate::Worker;

/// Messages per flush.
pub const FLUSH_MESSAGES: usize = 128;
/// Bytes of payload per flush (a flush stops growing past this).
pub const FLUSH_BYTES: usize = 8 << 20;

/// An uplink message with whatever the client needs to acknowledge it.
struct Uplink {
    topic: String,
    body: Vec<u8>,
    ack: AckHandle,
}

/// What acknowledges a message to the broker.
pub enum AckHandle {
    V4(rumqttc::AsyncClient, rumqttc::Publish),
    V5(
        rumqttc::v5::AsyncClient,
        rumqttc::v5::mqttbytes::v5::Publish,
    ),
}

impl AckHandle {
    async fn ack(self) {
        let res = match &self {
            AckHandle::V4(c, p) => c.ack(p).await.map_err(|e| e.to_string()),
            AckHandle::V5(c, p) => c.ack(p).await.map_err(|e| e.to_string()),
        };
        if let Err(e) = res {
            tracing::warn!(
                error = e,
                "could not acknowledge a message (it will come again)"
            );
        }
    }
}

/// Host and port of an `mqtt://host:port` (or `mqtts://`, `tcp://`) URL.
pub fn parse_url(url: &str) -> anyhow::Result<(String, u16)> {
    let (_, host, port) = parse_broker_url(url)?;
    Ok((host, port))
}

/// `mqtt://host[:port]` (also `tcp://`, port 1883 by default) or `mqtts://host[:port]` (TLS,
/// port 8883 by default) → (tls, host, port).
pub fn parse_broker_url(url: &str) -> anyhow::Result<(bool, String, u16)> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
        (true, rest)
    } else if let Some(rest) = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
    {
        (false, rest)
    } else {
        anyhow::bail!("the MQTT URL must start with mqtt:// or mqtts:// (got {url})");
    };
    let rest = rest.trim_end_matches('/');
    let default_port = if tls { 8883 } else { 1883 };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse()?),
        None => (rest.to_owned(), default_port),
    };
    anyhow::ensure!(!host.is_empty(), "the MQTT URL {url} has no host");
    Ok((tls, host, port))
}

/// The TLS transport of an `mqtts://` URL: the server certificate must chain to
/// `mqtt_ca_file` when set, else to the system's CA certificates.
fn tls_transport(settings: &Settings) -> anyhow::Result<rumqttc::Transport> {
    // Several crates may enable rustls providers; the worker picks ring. Already set is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(match &settings.mqtt_ca_file {
        Some(path) => {
            let ca = std::fs::read(path)
                .with_context(|| format!("reading mqtt_ca_file {}", path.display()))?;
            anyhow::ensure!(
                String::from_utf8_lossy(&ca).contains("-----BEGIN CERTIFICATE-----"),
                "mqtt_ca_file {} holds no PEM certificate",
                path.display()
            );
            rumqttc::Transport::tls(ca, None, None)
        }
        None => rumqttc::Transport::tls_with_default_config(),
    })
}

fn credentials(settings: &Settings) -> Option<(String, String)> {
    settings.mqtt_username.clone().map(|u| {
        let p = settings
            .mqtt_password
            .as_ref()
            .map(|p| secrecy::ExposeSecret::expose_secret(p).to_owned())
            .unwrap_or_default();
        (u, p)
    })
}

/// MQTT 5 options for `client_id`: persistent session (clean start off) with `session_expiry`
/// seconds, manual acks, TLS for `mqtts://`.
pub(crate) fn v5_options(
    settings: &Settings,
    url: &str,
    client_id: &str,
    session_expiry: u32,
) -> anyhow::Result<rumqttc::v5::MqttOptions> {
    let (tls, host, port) = parse_broker_url(url)?;
    let mut o = rumqttc::v5::MqttOptions::new(client_id, host, port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_clean_start(false)
        .set_session_expiry_interval(Some(session_expiry))
        .set_manual_acks(true)
        .set_max_packet_size(u32::try_from(settings.mqtt_max_packet_bytes).ok());
    if let Some((u, p)) = credentials(settings) {
        o.set_credentials(u, p);
    }
    if tls {
        o.set_transport(tls_transport(settings)?);
    }
    Ok(o)
}

/// Connects once with a throwaway client id (`{worker_id}-check`, clean start) and answers
/// whether the broker accepted it: reachable, TLS certificate trusted (`mqtt_ca_file`),
/// credentials right. A probe for operators and tests; the worker itself does not need it.
pub async fn check_connection(settings: &Settings, url: &str) -> anyhow::Result<()> {
    use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet};
    use rumqttc::v5::Event;

    let mut o = v5_options(settings, url, &format!("{}-check", settings.worker_id), 0)?;
    o.set_clean_start(true);
    let (client, mut events) = rumqttc::v5::AsyncClient::new(o, 10);
    let first = tokio::time::timeout(Duration::from_secs(10), events.poll())
        .await
        .with_context(|| format!("no answer from {url} within 10 s"))?;
    let accepted = match first {
        Ok(Event::Incoming(Packet::ConnAck(ack))) => {
            anyhow::ensure!(
                ack.code == ConnectReturnCode::Success,
                "{url} refused the connection: {:?}",
                ack.code
            );
            Ok(())
        }
        Ok(other) => Err(anyhow::anyhow!(
            "unexpected first event from {url}: {other:?}"
        )),
        Err(e) => Err(anyhow::Error::new(e).context(format!("connecting to {url}"))),
    };
    if accepted.is_ok() {
        let _ = client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(1), events.poll()).await;
    }
    accepted
}

/// A connected client: the publisher half, and the event loop to drive with [`Connection::run`].
pub struct Connection {
    pub publisher: Arc<dyn Publisher>,
    event_loop: EventLoop,
    filter: String,
}

enum EventLoop {
    V4(rumqttc::AsyncClient, Box<rumqttc::EventLoop>),
    V5(rumqttc::v5::AsyncClient, Box<rumqttc::v5::EventLoop>),
}

/// Creates the client (it connects when [`Connection::run`] polls). `filter` is normally
/// [`protocol::topic::WORKER_SHARED_FILTER`].
pub fn connect(settings: &Settings, url: &str, filter: &str) -> anyhow::Result<Connection> {
    let max = settings.mqtt_max_packet_bytes;
    let (publisher, event_loop): (Arc<dyn Publisher>, EventLoop) = if settings.mqtt_version == 5 {
        let o = v5_options(
            settings,
            url,
            &settings.worker_id,
            settings.mqtt_session_expiry_secs,
        )?;
        let (client, el) = rumqttc::v5::AsyncClient::new(o, 1_000);
        (
            Arc::new(client.clone()),
            EventLoop::V5(client, Box::new(el)),
        )
    } else {
        let (tls, host, port) = parse_broker_url(url)?;
        let mut o = rumqttc::MqttOptions::new(settings.worker_id.clone(), host, port);
        o.set_keep_alive(Duration::from_secs(30))
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_max_packet_size(max, max);
        if let Some((u, p)) = credentials(settings) {
            o.set_credentials(u, p);
        }
        if tls {
            o.set_transport(tls_transport(settings)?);
        }
        let (client, el) = rumqttc::AsyncClient::new(o, 1_000);
        (
            Arc::new(client.clone()),
            EventLoop::V4(client, Box::new(el)),
        )
    };
    Ok(Connection {
        publisher,
        event_loop,
        filter: filter.to_owned(),
    })
}

/// Uplink messages waiting for the ingester, in the order received.
struct Inbox {
    queue: std::sync::Mutex<VecDeque<Uplink>>,
    ready: tokio::sync::Notify,
}

impl Inbox {
    fn push(&self, p: Uplink) {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_back(p);
        self.ready.notify_one();
    }

    /// The oldest messages, up to `max_messages` and about `max_bytes`.
    fn take(&self, max_messages: usize, max_bytes: usize) -> Vec<Uplink> {
        let mut q = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        let mut bytes = 0;
        while out.len() < max_messages && bytes < max_bytes {
            let Some(p) = q.pop_front() else {
                break;
            };
            bytes += p.body.len();
            out.push(p);
        }
        out
    }
}

impl Connection {
    /// Polls the connection forever (reconnecting), handing uplink messages to `worker`.
    pub async fn run(self, worker: Worker) {
        let inbox = Arc::new(Inbox {
            queue: std::sync::Mutex::new(VecDeque::new()),
            ready: tokio::sync::Notify::new(),
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(ingester(worker.clone(), inbox.clone()));
        let dispatch = |p: Uplink| inbox.push(p);
        match self.event_loop {
            EventLoop::V5(client, mut el) => loop {
                use rumqttc::v5::mqttbytes::v5::Packet;
                use rumqttc::v5::Event;
                match el.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        tracing::info!("MQTT connected (v5)");
                        if let Err(e) = client
                            .subscribe(
                                self.filter.clone(),
                                rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                            )
                            .await
                        {
                            tracing::warn!(error = %e, "subscribe");
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let topic = String::from_utf8_lossy(&p.topic).into_owned();
                        let payload = p.payload.to_vec();
                        dispatch(Uplink {
                            topic,
                            body: payload,
                            ack: AckHandle::V5(client.clone(), p),
                        });
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "MQTT connection lost; reconnecting");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            },
            EventLoop::V4(client, mut el) => loop {
                use rumqttc::{Event, Packet};
                match el.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        tracing::info!("MQTT connected (3.1.1)");
                        if let Err(e) = client
                            .subscribe(self.filter.clone(), rumqttc::QoS::AtLeastOnce)
                            .await
                        {
                            tracing::warn!(error = %e, "subscribe");
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let topic = p.topic.clone();
                        let payload = p.payload.to_vec();
                        dispatch(Uplink {
                            topic,
                            body: payload,
                            ack: AckHandle::V4(client.clone(), p),
                        });
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "MQTT connection lost; reconnecting");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            },
        }
    }
}

async fn ingester(worker: Worker, inbox: Arc<Inbox>) {
    loop {
        let flush = inbox.take(FLUSH_MESSAGES, FLUSH_BYTES);
        if flush.is_empty() {
            inbox.ready.notified().await;
            continue;
        }
        handle_flush(&worker, &flush).await;
        for p in flush {
            p.ack.ack().await;
        }
    }
}

/// Handles a flush, retrying transient failures (the database away) until they succeed.
async fn handle_flush(worker: &Worker, uplinks: &[Uplink]) {
    let mut pending: Vec<&Uplink> = uplinks.iter().collect();
    let mut backoff = Duration::from_millis(200);
    while !pending.is_empty() {
        let messages: Vec<(&str, &[u8])> = pending
            .iter()
            .map(|p| (p.topic.as_str(), p.body.as_slice()))
            .collect();
        let results = worker.handle_uplinks(&messages, Utc::now()).await;
        let mut retry = Vec::new();
        for (p, res) in pending.into_iter().zip(results) {
            match res {
                Ok(()) => {}
                Err(e) if e.is_transient() => {
                    tracing::warn!(topic = p.topic, error = %e, "uplink failed; retrying");
                    retry.push(p);
                }
                Err(e) => tracing::warn!(topic = p.topic, error = %e, "uplink refused"),
            }
        }
        pending = retry;
        if !pending.is_empty() {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }
}

/// Handles one uplink message, retrying transient failures until it succeeds; a message
/// refused as invalid is logged. Either way it may then be acknowledged.
pub(crate) async fn handle_until_done(worker: &Worker, topic: &str, body: &[u8]) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match worker.handle_uplink(topic, body, Utc::now()).await {
            Ok(()) => break,
            Err(e) if e.is_transient() => {
                tracing::warn!(topic, error = %e, "uplink failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            Err(e) => {
                tracing::warn!(topic, error = %e, "uplink refused");
                break;
            }
        }
    }
}
