//! `mqtts://`: the worker against a private Mosquitto TLS listener whose certificate is signed
//! by a CA made here (the `openssl` CLI). With that CA as `mqtt_ca_file` it connects and rates
//! readings published over TLS; trusting another CA, or the system's roots, it refuses the
//! broker. Needs `/usr/sbin/mosquitto` and `openssl` (skips without them, except with
//! `CI=true`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use domain::Money;
use rumqttc::v5::mqttbytes::QoS;

use super::helpers::{settings, World};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`{name}.pem`, `{name}.key`) in `dir`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=Wattpay test {name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(format!("{name}.pem"))
}

/// `server.pem`/`server.key` for 127.0.0.1 and localhost, signed by the CA `ca`.
fn make_server_cert(dir: &Path, ca: &str) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
}

struct TlsBroker {
    port: u16,
    child: Child,
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_tls_broker(dir: &Path) -> TlsBroker {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // deploy/mosquitto/mosquitto.conf's commented TLS listener, on a free port with our files.
    let deployed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/mosquitto/mosquitto.conf"),
    )
    .unwrap();
    let snippet: Vec<&str> = deployed
        .lines()
        .skip_while(|l| !l.starts_with("#listener 8883"))
        .take_while(|l| l.starts_with('#') && !l.starts_with("# "))
        .map(|l| &l[1..])
        .collect();
    let mut lines = Vec::new();
    for line in &snippet {
        let key = line.split_whitespace().next().unwrap_or_default();
        lines.push(match key {
            "listener" => format!("listener {port} 127.0.0.1"),
            "certfile" => format!("certfile {}", dir.join("server.pem").display()),
            "keyfile" => format!("keyfile {}", dir.join("server.key").display()),
            "cafile" => format!("cafile {}", dir.join("ca.pem").display()),
            _ => (*line).to_owned(),
        });
    }
    for key in ["listener", "certfile", "keyfile", "cafile"] {
        assert!(
            lines.iter().any(|l| l.starts_with(key)),
            "the deployed TLS snippet lacks {key}: {snippet:?}"
        );
    }
    lines.extend(["allow_anonymous true".to_owned(), "user root".to_owned()]);
    let conf = dir.join("mosquitto.conf");
    std::fs::write(&conf, lines.join("\n") + "\n").unwrap();
    let child = Command::new(MOSQUITTO)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < end, "mosquitto did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    TlsBroker { port, child }
}

fn tools_missing() -> bool {
    let openssl = Command::new("openssl").arg("version").output().is_ok();
    if Path::new(MOSQUITTO).exists() && openssl {
        return false;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true requires {MOSQUITTO} and openssl for the TLS tests"
    );
    eprintln!("SKIPPED tls: {MOSQUITTO} or openssl missing");
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_speaks_mqtts_to_a_broker_signed_by_its_ca_only() {
    if tools_missing() {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let ca = make_ca(certs.path(), "ca");
    let other_ca = make_ca(certs.path(), "other-ca");
    make_server_cert(certs.path(), "ca");
    let broker = start_tls_broker(certs.path());
    let url = format!("mqtts://127.0.0.1:{}", broker.port);

    let db = store::testing::TestDb::sqlite().await.unwrap();
    let w = World::new(db, Money::from_fen(500)).await;
    let mut s = settings(w.dir.path());
    s.mqtt_url = Some(url.clone());

    // Another CA, or the system's roots: the broker's certificate is refused.
    for ca_file in [Some(other_ca.clone()), None] {
        s.mqtt_ca_file.clone_from(&ca_file);
        let err = worker::mqtt::check_connection(&s, &url)
            .await
            .expect_err("a broker certificate from another CA must be refused");
        let text = format!("{err:#}");
        assert!(
            text.to_lowercase().contains("certificate"),
            "{ca_file:?}: {text}"
        );
    }
    // Not a certificate at all: a clear error before connecting.
    s.mqtt_ca_file = Some(certs.path().join("server.ext"));
    let err = worker::mqtt::check_connection(&s, &url).await.unwrap_err();
    assert!(format!("{err:#}").contains("no PEM certificate"), "{err:#}");

    // The right CA: it connects, and readings published over TLS are rated.
    s.mqtt_ca_file = Some(ca.clone());
    worker::mqtt::check_connection(&s, &url).await.unwrap();
    let live = store::live::LiveCache::in_process();
    let mut changes = live.subscribe();
    let running = worker::run::start_with(s, w.db.conn().clone(), live).unwrap();

    let mut o = rumqttc::v5::MqttOptions::new("tls-test-agent", "127.0.0.1", broker.port);
    o.set_transport(rumqttc::Transport::tls(
        std::fs::read(&ca).unwrap(),
        None,
        None,
    ));
    let (client, mut events) = rumqttc::v5::AsyncClient::new(o, 100);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let gw = protocol::GatewayId::parse(&w.gateway).unwrap();
    let batches = [
        protocol::encode(&w.batch(1, &[(0, "100.00")])).unwrap(),
        protocol::encode(&w.batch(2, &[(60, "101.00")])).unwrap(),
    ];
    // The worker may still be subscribing: publish until the rise is rated.
    let mut rated = None;
    for _ in 0..40 {
        for b in &batches {
            client
                .publish(
                    protocol::topic::readings(&gw),
                    QoS::AtLeastOnce,
                    false,
                    b.clone(),
                )
                .await
                .unwrap();
        }
        let seen = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                if let Ok(snapshot) = changes.recv().await {
                    if snapshot.account_id == w.account.id
                        && snapshot.balance < Money::from_fen(500)
                    {
                        return snapshot.balance;
                    }
                }
            }
        })
        .await;
        if let Ok(balance) = seen {
            rated = Some(balance);
            break;
        }
    }
    // ¥5 − 1 kWh × ¥1, charged once however often the batches came.
    assert_eq!(rated, Some(Money::from_fen(400)));
    assert_eq!(w.balance().await, Money::from_fen(400));
    running.stop().await;
}
