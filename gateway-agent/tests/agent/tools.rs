//! The technician's tools run as a technician runs them: the `wattpay-agent` binary against the
//! simulator, judged by what it prints and its exit status.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use gateway_agent::simulator::{Simulator, SimulatorConfig, SimulatorHandle};
use protocol::RelayState;

use crate::support::agent_toml;

async fn sim() -> SimulatorHandle {
    let config =
        SimulatorConfig::with_meters("127.0.0.1:0".parse().unwrap(), 1, 1, "1".parse().unwrap());
    Simulator::start(config).await.unwrap()
}

/// Runs the binary off the runtime's threads (the simulator answers on them).
async fn agent_cli(args: Vec<String>, stdin: &'static str) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wattpay-agent"))
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_lists_the_slaves_that_answer_and_the_presets_that_read_them() {
    let sim = sim().await;
    let addr = sim.addr().to_string();
    let out = agent_cli(
        args(&[
            "scan",
            "--tcp",
            &addr,
            "--slaves",
            "1-3",
            "--timeout",
            "100ms",
        ]),
        "",
    )
    .await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("slave 1 answers (holding register 0 = 0x0000); reads as acrel-ddsy1352, acrel-dtsy1352"),
        "{t}"
    );
    assert!(t.contains("slave 2 answers"), "{t}");
    assert!(!t.contains("slave 3"), "{t}");
    assert!(t.contains("Found slave ids 1, 2."), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_with_no_answer_names_the_usual_faults() {
    let sim = sim().await;
    let addr = sim.addr().to_string();
    let out = agent_cli(
        args(&[
            "scan",
            "--tcp",
            &addr,
            "--slaves",
            "5-6",
            "--timeout",
            "100ms",
        ]),
        "",
    )
    .await;
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("Nothing answered on Modbus TCP"), "{t}");
    assert!(t.contains("A and B wires swapped"), "{t}");
}

fn config_file(dir: &std::path::Path, sim: &SimulatorHandle) -> String {
    let path = dir.join("agent.toml");
    std::fs::write(
        &path,
        agent_toml(dir, "mqtt://127.0.0.1:1", sim.addr(), 1, "60s"),
    )
    .unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_test_asks_first_then_trips_and_closes_with_read_back() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &sim);
    let base = [
        "--config",
        &config,
        "relay-test",
        "--meter",
        "m-x",
        "--hold",
        "0s",
    ];

    let out = agent_cli(args(&base), "no\n").await;
    let t = text(&out);
    assert!(t.contains("relay is closed"), "{t}");
    assert!(t.contains("This will trip (open) the relay"), "{t}");
    assert!(t.contains("cancelled; nothing was written"), "{t}");
    assert_eq!(sim.relay_writes(2), 0);

    let mut yes = args(&base);
    yes.push("--yes".into());
    let out = agent_cli(yes, "").await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("trip (open): written, read back open - OK"),
        "{t}"
    );
    assert!(t.contains("close: written, read back closed - OK"), "{t}");
    assert_eq!(sim.relay_writes(2), 2);
    assert_eq!(sim.relay(2), Some(RelayState::Closed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_test_on_a_silent_meter_says_what_to_check_and_writes_nothing() {
    let sim = sim().await;
    sim.set_silent(2, true);
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &sim);
    let out = agent_cli(
        args(&["--config", &config, "relay-test", "--meter", "m-x", "--yes"]),
        "",
    )
    .await;
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("could not read the relay before the test"),
        "{t}"
    );
    assert!(t.contains("A/B are not swapped"), "{t}");
    assert_eq!(sim.relay_writes(2), 0);
}
