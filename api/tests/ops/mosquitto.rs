//! The exported `passwd` and `acl` files against a real Mosquitto started from
//! `deploy/mosquitto/mosquitto.conf` (paths and port adapted) on a free port: a gateway connects
//! with its own password and stays inside its own topics; wrong passwords are refused.

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, QoS,
    SubscribeReasonCode,
};
use serde_json::json;
use tokio::sync::mpsc;

use crate::support::{spawn_app_with, TestApp};

const WORKER_PASSWORD: &str = "worker-password-for-tests";

/// The mosquitto binary: `WATTPAY_TEST_MOSQUITTO`, `/usr/sbin/mosquitto` or `mosquitto` on PATH.
pub fn mosquitto_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WATTPAY_TEST_MOSQUITTO") {
        return Some(PathBuf::from(path));
    }
    let sbin = PathBuf::from("/usr/sbin/mosquitto");
    if sbin.exists() {
        return Some(sbin);
    }
    let found = Command::new("mosquitto")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    found.then(|| PathBuf::from("mosquitto"))
}

/// A private mosquitto; killed on drop.
pub struct Broker {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `deploy/mosquitto/mosquitto.conf` with its files in `dir` and its listener on `port`.
pub fn adapt_conf(conf: &str, dir: &Path, port: u16) -> String {
    let mut replaced = 0;
    let mut out: Vec<String> = conf
        .lines()
        .map(|line| {
            let key = line.split_whitespace().next().unwrap_or_default();
            let new = match key {
                "password_file" => format!("password_file {}", dir.join("passwd").display()),
                "acl_file" => format!("acl_file {}", dir.join("acl").display()),
                "persistence_location" => {
                    format!("persistence_location {}/", dir.join("data").display())
                }
                "listener" => format!("listener {port} 127.0.0.1"),
                _ => return line.to_owned(),
            };
            replaced += 1;
            new
        })
        .collect();
    assert_eq!(replaced, 4, "mosquitto.conf changed shape:\n{conf}");
    // Started as root, mosquitto drops to the `mosquitto` user, which cannot read a private
    // temp dir; `user root` keeps it (ignored when not root).
    out.push("user root".to_owned());
    out.join("\n") + "\n"
}

/// Starts mosquitto with the committed config around `passwd` and `acl`.
pub fn start_broker(binary: &Path, passwd: &str, acl: &str) -> Broker {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("passwd"), passwd).unwrap();
    std::fs::write(dir.path().join("acl"), acl).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/mosquitto/mosquitto.conf"),
    )
    .unwrap();
    let conf_path = dir.path().join("mosquitto.conf");
    std::fs::write(&conf_path, adapt_conf(&conf, dir.path(), port)).unwrap();
    let mut child = Command::new(binary)
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded wait for the listener (or for the process to die with its reason).
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("mosquitto exited with {status}: {err}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Broker {
                child,
                port,
                _dir: dir,
            };
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("mosquitto did not listen on {port}");
}

/// A connected client and the packets it receives.
struct Client {
    client: AsyncClient,
    incoming: mpsc::UnboundedReceiver<Packet>,
}

async fn connect(port: u16, user: &str, password: &str) -> Result<Client, ConnectionError> {
    let mut opts = MqttOptions::new(
        format!("{user}-{}", uuid::Uuid::new_v4().simple()),
        "127.0.0.1",
        port,
    );
    opts.set_credentials(user, password);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(opts, 16);
    let first = tokio::time::timeout(Duration::from_secs(10), events.poll())
        .await
        .expect("connect timed out")?;
    assert!(
        matches!(first, Event::Incoming(Packet::ConnAck(_))),
        "{first:?}"
    );
    let (tx, incoming) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            if let Event::Incoming(packet) = event {
                if tx.send(packet).is_err() {
                    break;
                }
            }
        }
    });
    Ok(Client { client, incoming })
}

impl Client {
    async fn next_matching(&mut self, want: impl Fn(&Packet) -> bool) -> Packet {
        loop {
            let packet = tokio::time::timeout(Duration::from_secs(10), self.incoming.recv())
                .await
                .expect("nothing received in time")
                .expect("connection closed");
            if want(&packet) {
                return packet;
            }
        }
    }

    async fn subscribe(&mut self, filter: &str) -> SubscribeReasonCode {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .unwrap();
        match self.next_matching(|p| matches!(p, Packet::SubAck(_))).await {
            Packet::SubAck(ack) => ack.return_codes[0],
            _ => unreachable!(),
        }
    }

    async fn publish(&self, topic: &str, payload: &str) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
            .await
            .unwrap();
    }

    /// The next application message: `(topic, payload)`.
    async fn next_message(&mut self) -> (String, String) {
        match self
            .next_matching(|p| matches!(p, Packet::Publish(_)))
            .await
        {
            Packet::Publish(p) => (p.topic, String::from_utf8(p.payload.to_vec()).unwrap()),
            _ => unreachable!(),
        }
    }
}

fn refused(result: &Result<Client, ConnectionError>) -> bool {
    matches!(
        result,
        Err(ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized
        ))
    )
}

async fn create_gateway(app: &TestApp, token: &str, id: &str) -> String {
    let site: uuid::Uuid = app.seeded.a.site.into();
    let created = app
        .expect(
            Method::POST,
            "/api/v1/gateways",
            token,
            Some(&json!({"site_id": site, "gateway_id": id, "name": id})),
            201,
        )
        .await;
    created["mqtt_password"].as_str().unwrap().to_owned()
}

async fn download(app: &TestApp, token: &str, path: &str) -> String {
    let res = app.call(Method::GET, path, token, None).await;
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

#[tokio::test]
async fn exported_files_confine_each_gateway_in_a_real_mosquitto() {
    let Some(binary) = mosquitto_binary() else {
        assert!(std::env::var("CI").is_err(), "mosquitto is missing in CI");
        eprintln!("skipped: no mosquitto binary (set WATTPAY_TEST_MOSQUITTO)");
        return;
    };
    let app = spawn_app_with(store::testing::TestDb::sqlite().await.unwrap(), |s| {
        s.mqtt_password = Some(WORKER_PASSWORD.to_owned().into());
    })
    .await;
    let token = app.access_token(&app.admin_a).await;
    let pw1 = create_gateway(&app, &token, "gw-mq1").await;
    let _pw2 = create_gateway(&app, &token, "gw-mq2").await;
    let platform = app
        .token_for_role(app.org_a, domain::Role::PlatformAdmin)
        .await;
    let passwd = download(&app, &platform, "/api/v1/platform/mosquitto-passwd").await;
    assert!(passwd.starts_with("wattpay-worker:$7$"), "{passwd}");
    let acl = download(&app, &token, "/api/v1/gateways/export/mosquitto-acl").await;
    let broker = start_broker(&binary, &passwd, &acl);

    let mut worker = connect(broker.port, "wattpay-worker", WORKER_PASSWORD)
        .await
        .unwrap();
    assert_eq!(
        worker.subscribe("wattpay/v1/gw/+/up/#").await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    let mut gw1 = connect(broker.port, "gw-mq1", &pw1).await.unwrap();

    // Publishing under another gateway's id is dropped; its own uplink arrives (and arrives
    // after the forged one would have: one connection's messages keep their order).
    gw1.publish("wattpay/v1/gw/gw-mq2/up/readings", "forged")
        .await;
    gw1.publish("wattpay/v1/gw/gw-mq1/up/readings", "own").await;
    assert_eq!(
        worker.next_message().await,
        (
            "wattpay/v1/gw/gw-mq1/up/readings".to_owned(),
            "own".to_owned()
        )
    );

    // Another gateway's downlink delivers nothing. (Mosquitto 2.0 acknowledges an MQTT 3.1.1
    // subscription the ACL denies and then filters every message at delivery; later versions
    // answer 0x80. Either way nothing of gw-mq2 reaches gw-mq1, which is what is checked.)
    let _granted_or_not = gw1.subscribe("wattpay/v1/gw/gw-mq2/down/#").await;
    assert_eq!(
        gw1.subscribe("wattpay/v1/gw/gw-mq1/down/#").await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    worker
        .publish("wattpay/v1/gw/gw-mq2/down/commands", "not yours")
        .await;
    worker
        .publish("wattpay/v1/gw/gw-mq1/down/commands", "yours")
        .await;
    assert_eq!(
        gw1.next_message().await,
        (
            "wattpay/v1/gw/gw-mq1/down/commands".to_owned(),
            "yours".to_owned()
        )
    );

    // Wrong passwords, and one gateway's password for another, are refused at connect.
    assert!(refused(&connect(broker.port, "gw-mq1", "wrong").await));
    assert!(refused(&connect(broker.port, "gw-mq2", &pw1).await));
    assert!(refused(&connect(broker.port, "gw-unknown", &pw1).await));
    assert!(refused(
        &connect(broker.port, "wattpay-worker", "wrong").await
    ));
}
