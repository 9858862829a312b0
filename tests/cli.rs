//! The `wattpay` binary as a user runs it: the demo (README command one, on a free port),
//! restart on the same data directory, Ctrl-C, `migrate --status` and `admin create-org`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

fn wattpay(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wattpay"));
    cmd.arg("--data-dir").arg(data_dir);
    // The binary must run on embedded defaults whatever the developer's shell exports.
    for (key, _) in std::env::vars() {
        if key.starts_with("WATTPAY_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

struct Demo {
    child: Child,
    lines: mpsc::Receiver<String>,
    base: String,
    printed: Vec<String>,
}

impl Demo {
    fn start(data_dir: &Path) -> Demo {
        let mut child = wattpay(data_dir)
            .args(["demo", "--port", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut demo = Demo {
            child,
            lines,
            base: String::new(),
            printed: Vec::new(),
        };
        demo.read_until("Press Ctrl-C to stop.");
        let running = demo
            .printed
            .iter()
            .find_map(|l| l.strip_prefix("Wattpay demo is running at "))
            .expect("the demo prints its URL")
            .to_owned();
        demo.base = running;
        demo
    }

    fn read_until(&mut self, marker: &str) {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| {
                    panic!(
                        "the demo did not print {marker:?}; so far: {:#?}",
                        self.printed
                    )
                });
            let done = line.contains(marker);
            self.printed.push(line);
            if done {
                return;
            }
        }
    }

    /// Stops the demo with `signal` (`INT` as Ctrl-C does, `TERM` as `docker stop` does) and
    /// checks it shuts down cleanly.
    fn stop_with(mut self, signal: &str) -> Vec<String> {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.read_until("Wattpay demo stopped.");
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "demo exited with {exit}");
        self.printed
    }
}

/// The account numbers of the door-page URLs (`.../t/<account_no>`) the demo printed.
fn door_pages(printed: &[String]) -> Vec<String> {
    printed
        .iter()
        .filter_map(|l| l.split_whitespace().find_map(|w| w.split("/t/").nth(1)))
        .map(str::to_owned)
        .collect()
}

async fn sign_in(base: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "admin@demo.local", "password": "wattpay-demo"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn demo_serves_sign_in_and_keeps_its_data_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(dir.path());
    assert!(demo
        .printed
        .iter()
        .any(|l| l.contains("seeded a new demo organization")));
    assert!(demo
        .printed
        .iter()
        .any(|l| l.contains("admin@demo.local") && l.contains("wattpay-demo")));
    let doors = door_pages(&demo.printed);
    assert!(
        doors.len() >= 2,
        "door pages are printed: {:#?}",
        demo.printed
    );
    assert_eq!(
        demo.printed
            .iter()
            .filter(|l| l.contains("protected"))
            .count(),
        1,
        "one protected account is shown"
    );

    let ready = reqwest::get(format!("{}/readyz", demo.base)).await.unwrap();
    assert_eq!(ready.status(), 200);
    let res = sign_in(&demo.base).await;
    assert_eq!(res.status(), 200);
    let token: Value = res.json().await.unwrap();
    let me: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/me", demo.base))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "org_admin");
    demo.stop_with("INT");

    // Second start on the same data directory: same organization, same accounts, no reseeding.
    let demo = Demo::start(dir.path());
    assert!(demo
        .printed
        .iter()
        .any(|l| l.contains("using the existing demo organization")));
    // The same accounts behind the same door pages.
    assert_eq!(door_pages(&demo.printed), doors);
    let res = sign_in(&demo.base).await;
    assert_eq!(res.status(), 200);
    let me_again: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/me", demo.base))
        .bearer_auth(
            res.json::<Value>().await.unwrap()["access_token"]
                .as_str()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me_again["organization_id"], me["organization_id"]);
    demo.stop_with("TERM");
}

#[test]
fn migrate_status_then_migrate_then_create_org() {
    let dir = tempfile::tempdir().unwrap();
    let status = wattpay(dir.path())
        .args(["migrate", "--status"])
        .output()
        .unwrap();
    assert_eq!(
        status.status.code(),
        Some(3),
        "a fresh database has pending migrations"
    );
    assert!(String::from_utf8_lossy(&status.stdout).contains("pending "));

    // The api refuses an outdated schema with a message that says what to do.
    let api = wattpay(dir.path()).arg("api").output().unwrap();
    assert!(!api.status.success());
    assert!(String::from_utf8_lossy(&api.stderr).contains("wattpay migrate"));

    let migrate = wattpay(dir.path()).arg("migrate").output().unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let status = wattpay(dir.path())
        .args(["migrate", "--status"])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&status.stdout).contains("schema is current"));

    let create = |email: &str, password: &str| {
        wattpay(dir.path())
            .args([
                "admin",
                "create-org",
                "--name",
                "绿城物业",
                "--admin-email",
                email,
            ])
            .args(["--admin-password", password])
            .output()
            .unwrap()
    };
    let ok = create("boss@greentown.example", "long enough password");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("绿城物业"));

    let dup = create("Boss@Greentown.example", "long enough password");
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let short = create("other@greentown.example", "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"));
}
