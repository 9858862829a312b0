//! `mqtts://` with a custom CA: a private Mosquitto with a TLS listener (certificate signed by a
//! CA made here with the `openssl` CLI) and a plain one for the test's cloud client. An agent
//! trusting another CA refuses the broker and keeps its readings on disk; one trusting the
//! broker's CA delivers them. Skips without `openssl` (fails with `CI=true`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gateway_agent::simulator::{Simulator, SimulatorConfig};
use gateway_agent::Agent;
use protocol::AgentConfig;

use crate::support::{agent_toml, free_port, queued_batches, Cloud, Up};

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

fn make_ca(dir: &Path, name: &str) {
    let subject = format!("/CN=Wattpay agent test {name}");
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
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
            &subject,
            "-keyout",
            &key,
            "-out",
            &pem,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

fn make_server_cert(dir: &Path) {
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
            "ca.pem",
            "-CAkey",
            "ca.key",
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

/// Mosquitto with a TLS listener (`tls`) and a plain one (`plain`) for the cloud client.
struct TlsBroker {
    tls: u16,
    plain: u16,
    child: Child,
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_broker(dir: &Path) -> TlsBroker {
    let (tls, plain) = (free_port(), free_port());
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {tls} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\n\
             keyfile {d}/server.key\nlistener {plain} 127.0.0.1\nallow_anonymous true\n\
             user root\n",
            d = dir.display()
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
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while [tls, plain]
        .iter()
        .any(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_err())
    {
        assert!(std::time::Instant::now() < end, "mosquitto did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    TlsBroker { tls, plain, child }
}

fn config(data_dir: &Path, url: &str, ca: &Path, sim: std::net::SocketAddr) -> AgentConfig {
    let toml = agent_toml(data_dir, url, sim, 1, "150ms").replace(
        &format!("url = \"{url}\"\n"),
        &format!("url = \"{url}\"\nca_file = \"{}\"\n", ca.display()),
    );
    AgentConfig::from_toml_str(&toml).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_trusts_the_configured_ca_and_nothing_else() {
    let openssl_here = Command::new("openssl").arg("version").output().is_ok();
    if !(openssl_here && Path::new(MOSQUITTO).exists()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true requires openssl and {MOSQUITTO} for the TLS test"
        );
        eprintln!("SKIPPED: openssl or {MOSQUITTO} missing");
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    make_ca(certs.path(), "ca");
    make_ca(certs.path(), "other-ca");
    make_server_cert(certs.path());
    let broker = start_broker(certs.path());
    let url = format!("mqtts://127.0.0.1:{}", broker.tls);
    let sim = Simulator::start(SimulatorConfig::with_meters(
        "127.0.0.1:0".parse().unwrap(),
        1,
        1,
        "3600".parse().unwrap(),
    ))
    .await
    .unwrap();
    let mut cloud = Cloud::connect(broker.plain).await;

    // Trusting another CA: the handshake fails, readings stay queued on disk.
    let wrong = tempfile::tempdir().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(Agent::run(
        config(
            wrong.path(),
            &url,
            &certs.path().join("other-ca.pem"),
            sim.addr(),
        ),
        async {
            let _ = rx.await;
        },
    ));
    crate::support::eventually("readings queued on disk", Duration::from_secs(10), || {
        (queued_batches(wrong.path()).len() >= 3).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        cloud.rx.try_recv().is_err(),
        "nothing reached the broker through a certificate of an untrusted CA"
    );
    let _ = stop.send(());
    agent.await.unwrap().unwrap();

    // Trusting the broker's CA: connected, the readings arrive.
    let right = tempfile::tempdir().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(Agent::run(
        config(right.path(), &url, &certs.path().join("ca.pem"), sim.addr()),
        async {
            let _ = rx.await;
        },
    ));
    cloud
        .next("readings over TLS", Duration::from_secs(10), |u| match u {
            Up::Readings(b) if !b.readings.is_empty() => Some(()),
            _ => None,
        })
        .await;
    let _ = stop.send(());
    agent.await.unwrap().unwrap();
}
