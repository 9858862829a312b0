//! The embedded MQTT broker (rumqttd) of the demo and the default tests: MQTT 3.1.1 and 5 on
//! localhost, shared subscriptions and retained messages included. It runs on its own threads
//! for the life of the process; [`EmbeddedBroker::port`] is where it listens.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use anyhow::Context;

/// A running embedded broker.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    port: u16,
    v5_port: u16,
}

impl EmbeddedBroker {
    /// Starts a broker on `port` (0: a free port) for MQTT 3.1.1, and one more free port for
    /// MQTT 5. Returns once both accept connections.
    pub fn start(port: u16) -> anyhow::Result<EmbeddedBroker> {
        let port = if port == 0 {
            free_port()?
        } else {
            // Fail loudly here: rumqttd would only log the bind error in its thread, and the
            // worker would then talk to whatever else listens on the port.
            TcpListener::bind((Ipv4Addr::LOCALHOST, port))
                .with_context(|| {
                    format!(
                        "port {port} for the embedded MQTT broker is taken (another broker?): \
                         set WATTPAY_MQTT_URL to use that broker, or \
                         WATTPAY_EMBEDDED_BROKER_PORT to another port (0: any free one)"
                    )
                })?
                .local_addr()?
                .port()
        };
        let v5_port = free_port()?;
        let server = |name: &str, port: u16| {
            serde_json::json!({
                "name": name,
                "listen": SocketAddr::from((Ipv4Addr::LOCALHOST, port)).to_string(),
                "next_connection_delay_ms": 1,
                "connections": {
                    "connection_timeout_ms": 60000,
                    "max_payload_size": 4 * 1024 * 1024,
                    "max_inflight_count": 500,
                    "dynamic_filters": true
                }
            })
        };
        let config = serde_json::json!({
            "id": 0,
            "router": {
                "max_connections": 10010,
                "max_outgoing_packet_count": 1000,
                "max_segment_size": 104_857_600,
                "max_segment_count": 10
            },
            "v4": {"1": server("v4-1", port)},
            "v5": {"1": server("v5-1", v5_port)}
        });
        let config: rumqttd::Config =
            serde_json::from_value(config).context("embedded broker configuration")?;
        let mut broker = rumqttd::Broker::new(config);
        std::thread::Builder::new()
            .name("wattpay-broker".into())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "embedded broker stopped");
                }
            })
            .context("starting the embedded broker")?;
        for p in [port, v5_port] {
            wait_listening(p)?;
        }
        tracing::info!(port, v5_port, "embedded MQTT broker listening");
        Ok(EmbeddedBroker { port, v5_port })
    }

    /// The MQTT 3.1.1 port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The MQTT 5 port.
    pub fn v5_port(&self) -> u16 {
        self.v5_port
    }

    /// `mqtt://127.0.0.1:{port}` (3.1.1).
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// `mqtt://127.0.0.1:{v5_port}` (MQTT 5).
    pub fn v5_url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.v5_port)
    }
}

fn free_port() -> anyhow::Result<u16> {
    // Bound and released: the broker binds it right after (a small race, fine on localhost).
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn wait_listening(port: u16) -> anyhow::Result<()> {
    for _ in 0..500 {
        if std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    anyhow::bail!("the embedded broker did not listen on port {port}")
}
