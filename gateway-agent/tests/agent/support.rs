//! Test fixtures: a private Mosquitto per test, an MQTT observer, agent configs pointing at the
//! simulator, and bounded waits.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::{AgentConfig, CommandAck, GatewayStatus, ReadingBatch};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

pub const GW: &str = "gw-test";
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// Waits up to `limit` for `check` to give `Some`, polling every 20 ms.
pub async fn eventually<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < end,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Mosquitto broker of this test only, with persistence so sessions survive its restart.
pub struct Mosquitto {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Mosquitto {
    /// `None` (after saying why) when mosquitto is not installed and CI is not `true`.
    pub fn start() -> Option<Self> {
        if !Path::new(MOSQUITTO).exists() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{MOSQUITTO} is missing, and CI=true requires the broker tests to run"
            );
            eprintln!("SKIPPED: {MOSQUITTO} is not installed (apt-get install mosquitto)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        // Run as root, mosquitto drops to its own user and must still write its database.
        let mut perms = std::fs::metadata(dir.path()).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
        std::fs::set_permissions(dir.path(), perms).unwrap();
        let mut m = Self {
            port: free_port(),
            dir,
            child: None,
        };
        m.spawn();
        Some(m)
    }

    fn spawn(&mut self) {
        let conf = self.dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n",
                self.port,
                self.dir.path().display()
            ),
        )
        .unwrap();
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < end,
                "mosquitto did not listen within 5 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the broker cleanly (SIGTERM, so it saves its sessions) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Everything the agent published, as it arrives.
#[derive(Debug)]
pub enum Up {
    Readings(ReadingBatch),
    Ack(CommandAck),
    Status(GatewayStatus),
}

/// An MQTT client playing the cloud: sees `up/#`, publishes `down/...`.
pub struct Cloud {
    pub client: AsyncClient,
    pub rx: mpsc::UnboundedReceiver<Up>,
    /// Every batch number received, in arrival order, whoever consumed the message.
    pub batches: Arc<Mutex<Vec<u64>>>,
}

impl Cloud {
    pub async fn connect(port: u16) -> Self {
        let mut opts = MqttOptions::new(format!("cloud-{port}"), "127.0.0.1", port);
        // A persistent session: messages published while the broker restarts still reach us.
        opts.set_clean_session(false);
        opts.set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut events) = AsyncClient::new(opts, 64);
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let sub = client.clone();
        let batches = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&batches);
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        sub.subscribe(format!("wattpay/v1/gw/{GW}/up/#"), QoS::AtLeastOnce)
                            .await
                            .unwrap();
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let up = if p.topic.ends_with("/readings") {
                            let b = protocol::decode_reading_batch(&p.payload).unwrap();
                            seen.lock().unwrap().push(b.batch);
                            Up::Readings(b)
                        } else if p.topic.ends_with("/acks") {
                            Up::Ack(protocol::decode_command_ack(&p.payload).unwrap())
                        } else {
                            Up::Status(protocol::decode_gateway_status(&p.payload).unwrap())
                        };
                        if tx.send(up).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        timeout(Duration::from_secs(5), ready_rx)
            .await
            .expect("cloud client did not subscribe")
            .unwrap();
        Self {
            client,
            rx,
            batches,
        }
    }

    pub fn received_batches(&self) -> Vec<u64> {
        self.batches.lock().unwrap().clone()
    }

    pub async fn send(&self, kind: &str, payload: impl Into<Vec<u8>>, retain: bool) {
        self.client
            .publish(
                format!("wattpay/v1/gw/{GW}/down/{kind}"),
                QoS::AtLeastOnce,
                retain,
                payload.into(),
            )
            .await
            .unwrap();
    }

    /// The next message for which `f` gives `Some`, within `limit`.
    pub async fn next<T>(
        &mut self,
        what: &str,
        limit: Duration,
        mut f: impl FnMut(Up) -> Option<T>,
    ) -> T {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let up = timeout(left, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out after {limit:?} waiting for {what}"))
                .expect("cloud client stopped");
            if let Some(v) = f(up) {
                return v;
            }
        }
    }

    pub async fn ack(&mut self, id: &str) -> CommandAck {
        let id = id.to_owned();
        self.next(
            &format!("the ack of {id}"),
            Duration::from_secs(10),
            |u| match u {
                Up::Ack(a) if a.id.as_str() == id => Some(a),
                _ => None,
            },
        )
        .await
    }
}

pub fn command(id: &str, meter: &str, seq: u64, action: &str) -> String {
    let now = chrono::Utc::now();
    format!(
        r#"{{"v":1,"id":"{id}","meter":"{meter}","seq":{seq},"action":"{action}","issued_at":"{}","expires_at":"{}"}}"#,
        now.to_rfc3339(),
        (now + chrono::Duration::minutes(5)).to_rfc3339()
    )
}

/// The agent TOML for a simulator at `sim` with meters m-1.. (Acrel) and m-x (explicit map).
pub fn agent_toml(
    data_dir: &Path,
    mqtt_url: &str,
    sim: std::net::SocketAddr,
    acrel: u8,
    poll: &str,
) -> String {
    let mut toml = format!(
        r#"gateway_id = "{GW}"
data_dir = "{}"
status_interval = "300ms"
[mqtt]
url = "{mqtt_url}"
[[bus]]
name = "sim"
transport = "tcp"
address = "{sim}"
poll_interval = "{poll}"
timeout = "300ms"
retries = 1
"#,
        data_dir.display()
    );
    for slave in 1..=acrel {
        toml.push_str(&format!(
            "[[bus.meter]]\nid = \"m-{slave}\"\nslave = {slave}\nmodel = \"acrel-ddsy1352\"\n"
        ));
    }
    toml.push_str(&format!(
        r#"[[bus.meter]]
id = "m-x"
slave = {}
[bus.meter.registers]
energy_kwh = {{ function = "holding", address = 0, type = "u32", scale = "0.01" }}
voltage_v = {{ function = "input", address = 0, type = "f32" }}
current_a = {{ function = "input", address = 2, type = "f32" }}
power_kw = {{ function = "input", address = 4, type = "f32" }}
relay = {{ read = {{ function = "coil", address = 0, open = 0, closed = 1 }}, write = {{ function = "coil", address = 0, open = 0, closed = 1 }} }}
"#,
        acrel + 1
    ));
    toml
}

pub fn agent_config(
    data_dir: &Path,
    mqtt_url: &str,
    sim: std::net::SocketAddr,
    acrel: u8,
) -> AgentConfig {
    AgentConfig::from_toml_str(&agent_toml(data_dir, mqtt_url, sim, acrel, "150ms")).unwrap()
}

/// Batch numbers waiting in an agent's disk queue.
pub fn queued_batches(data_dir: &Path) -> Vec<u64> {
    let dir: PathBuf = data_dir.join("queue");
    let mut v: Vec<u64> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".json")?.parse().ok()
            })
            .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}
