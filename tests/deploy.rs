//! `deploy/` is checked like code: compose.yaml parses and every service has what it needs
//! (also through `docker-compose config -q` when installed), the Kubernetes manifests parse and
//! api and worker carry probes and resources, the probe paths answer, the Mosquitto config starts
//! a real mosquitto with the password file `wattpay admin mqtt-passwd` prints, and the worker
//! refuses an outdated schema.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_norway::Value;

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(file)
}

fn yaml_docs(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(deploy(file)).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| {
            let mut v: Value = serde::Deserialize::deserialize(doc).unwrap();
            v.apply_merge().unwrap();
            v
        })
        .collect()
}

fn wattpay(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wattpay"));
    cmd.arg("--data-dir").arg(data_dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("WATTPAY_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

fn env_names(service: &Value) -> Vec<String> {
    service["environment"]
        .as_mapping()
        .map(|m| m.keys().map(|k| k.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn compose_parses_and_every_service_has_what_it_needs() {
    let compose = yaml_docs("compose.yaml").remove(0);
    let services = compose["services"].as_mapping().unwrap();
    for name in ["postgres", "redis", "mosquitto", "migrate", "api", "worker"] {
        let service = &services[name];
        assert!(service["image"].is_string(), "{name} has an image");
    }
    let built: Vec<_> = services
        .values()
        .filter(|s| s["build"]["dockerfile"].is_string())
        .collect();
    assert_eq!(built.len(), 1, "one service builds the wattpay image");
    assert!(deploy("../")
        .join(built[0]["build"]["dockerfile"].as_str().unwrap())
        .exists());

    for name in ["migrate", "api", "worker"] {
        let service = &services[name];
        assert_eq!(service["image"], "wattpay", "{name}");
        let env = env_names(service);
        for key in [
            "WATTPAY_DATABASE_URL",
            "WATTPAY_JWT_SECRET",
            "WATTPAY_SECRET_KEY",
        ] {
            assert!(env.contains(&key.to_owned()), "{name} lacks {key}");
        }
    }
    for name in ["api", "worker"] {
        let service = &services[name];
        assert_eq!(
            service["depends_on"]["migrate"]["condition"], "service_completed_successfully",
            "{name} starts after the migrations"
        );
        assert_eq!(service["restart"], "unless-stopped");
        for key in ["WATTPAY_REDIS_URL", "WATTPAY_MQTT_URL"] {
            assert!(
                env_names(service).contains(&key.to_owned()),
                "{name} lacks {key}"
            );
        }
    }
    assert_eq!(services["migrate"]["command"][0], "migrate");
    assert_eq!(services["api"]["command"][0], "api");
    assert_eq!(services["worker"]["command"][0], "worker");
    let worker_env = env_names(&services["worker"]);
    for key in [
        "WATTPAY_MQTT_USERNAME",
        "WATTPAY_MQTT_PASSWORD",
        "WATTPAY_WORKER_ID",
    ] {
        assert!(worker_env.contains(&key.to_owned()), "worker lacks {key}");
    }
    assert_eq!(
        services["api"]["environment"]["WATTPAY_HTTP_ADDR"],
        "0.0.0.0:8080"
    );

    // Bind-mounted files exist (except the exported passwd); named volumes are declared.
    let volumes = compose["volumes"].as_mapping().unwrap();
    for (name, service) in services {
        let name = name.as_str().unwrap();
        for mount in service["volumes"].as_sequence().into_iter().flatten() {
            let source = mount.as_str().unwrap().split(':').next().unwrap();
            if let Some(file) = source.strip_prefix("./") {
                if file != "mosquitto/passwd" {
                    assert!(deploy(file).exists(), "{name}: {source} missing");
                }
            } else {
                assert!(
                    volumes.contains_key(source),
                    "{name}: volume {source} undeclared"
                );
            }
        }
    }

    // Debian's docker-compose, when installed, validates the whole file (secrets from .env).
    if let Ok(out) = Command::new("docker-compose")
        .args([
            "-f",
            deploy("compose.yaml").to_str().unwrap(),
            "config",
            "-q",
        ])
        .envs([
            ("POSTGRES_PASSWORD", "x"),
            ("WATTPAY_MQTT_PASSWORD", "x"),
            ("WATTPAY_JWT_SECRET", "x"),
            ("WATTPAY_SECRET_KEY", "x"),
        ])
        .output()
    {
        assert!(
            out.status.success(),
            "docker-compose config: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} missing"))
}

fn assert_resources(container: &Value, what: &str) {
    let resources = &container["resources"];
    assert!(
        resources["requests"]["cpu"].is_string(),
        "{what}: cpu request"
    );
    assert!(
        resources["requests"]["memory"].is_string(),
        "{what}: memory request"
    );
    assert!(
        resources["limits"]["memory"].is_string(),
        "{what}: memory limit"
    );
}

#[test]
fn kubernetes_manifests_parse_and_carry_probes_and_resources() {
    let mut docs = yaml_docs("kubernetes/wattpay.yaml");
    docs.extend(yaml_docs("kubernetes/emqx.yaml"));
    for doc in &docs {
        assert!(
            doc["apiVersion"].is_string() && doc["kind"].is_string(),
            "{doc:?}"
        );
        assert!(doc["metadata"]["name"].is_string(), "{doc:?}");
    }
    let config_map = find(&docs, "ConfigMap", "wattpay-config");
    let secret = find(&docs, "Secret", "wattpay-secrets");
    let configured = |key: &str| {
        config_map["data"].get(key).is_some() || secret["stringData"].get(key).is_some()
    };
    for key in [
        "WATTPAY_DATABASE_URL",
        "WATTPAY_JWT_SECRET",
        "WATTPAY_SECRET_KEY",
        "WATTPAY_REDIS_URL",
        "WATTPAY_MQTT_URL",
        "WATTPAY_MQTT_PASSWORD",
        "WATTPAY_MQTT_HOOK_SECRET",
    ] {
        assert!(
            configured(key),
            "{key} is neither in the ConfigMap nor the Secret"
        );
    }

    let api = find(&docs, "Deployment", "wattpay-api");
    let pod = &api["spec"]["template"];
    assert_eq!(
        pod["metadata"]["labels"],
        api["spec"]["selector"]["matchLabels"]
    );
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_resources(container, "api");
    let hpa = find(&docs, "HorizontalPodAutoscaler", "wattpay-api");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "wattpay-api");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    let service = find(&docs, "Service", "wattpay-api");
    assert_eq!(
        service["spec"]["selector"],
        api["spec"]["selector"]["matchLabels"]
    );

    let worker = find(&docs, "StatefulSet", "wattpay-worker");
    let container = &worker["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"][0], "worker");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert!(
            container[probe]["exec"]["command"].is_sequence(),
            "worker {probe}"
        );
    }
    assert_resources(container, "worker");
    assert_eq!(
        container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name",
        "the pod name is the worker's stable MQTT client id"
    );
    let job = find(&docs, "Job", "wattpay-migrate");
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["args"][0],
        "migrate"
    );

    let emqx = find(&docs, "StatefulSet", "emqx");
    let container = &emqx["spec"]["template"]["spec"]["containers"][0];
    assert!(container["readinessProbe"].is_mapping() && container["livenessProbe"].is_mapping());
    assert_resources(container, "emqx");
}

#[test]
fn the_worker_probe_command_answers_by_schema_state() {
    // The worker's exec probe is `wattpay migrate --status`: 3 while migrations are pending,
    // 0 once the schema is current.
    let docs = yaml_docs("kubernetes/wattpay.yaml");
    let worker = find(&docs, "StatefulSet", "wattpay-worker");
    let probe: Vec<String> = worker["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
        ["exec"]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(probe[1..], ["migrate", "--status"]);
    let dir = tempfile::tempdir().unwrap();
    let status = || {
        wattpay(dir.path())
            .args(&probe[1..])
            .output()
            .unwrap()
            .status
    };
    assert_eq!(status().code(), Some(3));

    // The worker refuses the outdated schema with a message that says what to do.
    let worker = wattpay(dir.path()).arg("worker").output().unwrap();
    assert!(!worker.status.success());
    let stderr = String::from_utf8_lossy(&worker.stderr);
    assert!(stderr.contains("wattpay migrate"), "{stderr}");

    assert!(wattpay(dir.path())
        .arg("migrate")
        .status()
        .unwrap()
        .success());
    assert_eq!(status().code(), Some(0));
}

/// A private mosquitto; killed on drop.
struct Broker {
    child: Child,
    port: u16,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mosquitto_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WATTPAY_TEST_MOSQUITTO") {
        return Some(PathBuf::from(path));
    }
    [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

fn start_mosquitto(binary: &Path, dir: &Path) -> Broker {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = std::fs::read_to_string(deploy("mosquitto/mosquitto.conf")).unwrap();
    let mut adapted = 0;
    let mut lines: Vec<String> = conf
        .lines()
        .map(|line| {
            let key = line.split_whitespace().next().unwrap_or_default();
            let new = match key {
                "password_file" => format!("password_file {}", dir.join("passwd").display()),
                "acl_file" => format!("acl_file {}", deploy("mosquitto/acl").display()),
                "persistence_location" => format!("persistence_location {}/", dir.display()),
                "listener" => format!("listener {port} 127.0.0.1"),
                _ => return line.to_owned(),
            };
            adapted += 1;
            new
        })
        .collect();
    assert_eq!(adapted, 4, "mosquitto.conf changed shape");
    // As root mosquitto drops to the `mosquitto` user, which cannot read a private temp dir.
    lines.push("user root".to_owned());
    let conf_path = dir.join("mosquitto.conf");
    std::fs::write(&conf_path, lines.join("\n") + "\n").unwrap();
    let mut child = Command::new(binary)
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
            return Broker { child, port };
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("mosquitto did not listen");
}

/// MQTT 3.1.1 CONNECT with optional credentials; the CONNACK return code.
fn connack_code(port: u16, credentials: Option<(&str, &str)>) -> u8 {
    fn field(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&u16::try_from(s.len()).unwrap().to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let mut body = Vec::new();
    field(&mut body, "MQTT");
    body.push(4);
    body.push(if credentials.is_some() { 0xC2 } else { 0x02 });
    body.extend_from_slice(&30u16.to_be_bytes());
    field(&mut body, "deploy-test");
    if let Some((user, password)) = credentials {
        field(&mut body, user);
        field(&mut body, password);
    }
    assert!(body.len() < 128, "one-byte remaining length");
    let mut packet = vec![0x10, u8::try_from(body.len()).unwrap()];
    packet.extend(body);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(&packet).unwrap();
    let mut ack = [0u8; 4];
    stream.read_exact(&mut ack).unwrap();
    assert_eq!(ack[..2], [0x20, 0x02], "a CONNACK");
    ack[3]
}

#[test]
fn the_mosquitto_config_starts_a_real_mosquitto_with_the_cli_passwd() {
    let Some(binary) = mosquitto_binary() else {
        assert!(std::env::var("CI").is_err(), "mosquitto is missing in CI");
        eprintln!("skipped: no mosquitto binary (set WATTPAY_TEST_MOSQUITTO)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    assert!(wattpay(dir.path())
        .arg("migrate")
        .status()
        .unwrap()
        .success());
    let out = wattpay(dir.path())
        .args([
            "admin",
            "mqtt-passwd",
            "--username",
            "wattpay-worker",
            "--gateways",
        ])
        .env("WATTPAY_MQTT_PASSWORD", "the-workers-password")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passwd = String::from_utf8(out.stdout).unwrap();
    assert!(passwd.starts_with("wattpay-worker:$7$"), "{passwd}");
    std::fs::write(dir.path().join("passwd"), &passwd).unwrap();

    let broker = start_mosquitto(&binary, dir.path());
    assert_eq!(
        connack_code(
            broker.port,
            Some(("wattpay-worker", "the-workers-password"))
        ),
        0,
        "the worker signs in"
    );
    // 5 = not authorized (MQTT 3.1.1): wrong password and anonymous clients are refused.
    assert_eq!(
        connack_code(broker.port, Some(("wattpay-worker", "nope"))),
        5
    );
    assert_eq!(connack_code(broker.port, None), 5);
}
