//! The agent's own cost of polling, run by `cargo bench -p gateway-agent` (never by the tests:
//! without cargo bench's `--bench` flag it does nothing).
//!
//! 1. Polls 64 simulated Acrel meters over Modbus TCP with zero reply delay through the agent's
//!    link and reports reads per second, wall time per read and the agent's own CPU time per
//!    request. The simulator runs in a separate process (`wattpay-agent simulate`) and the
//!    agent on a current-thread runtime, so this thread's CPU time
//!    (`/proc/thread-self/schedstat`) is the agent's alone: target under 1 ms, so that on a
//!    9600-baud bus (~40 ms per read) the wire sets the pace.
//! 2. Runs the whole agent on those 64 meters with an unreachable broker until its disk queue
//!    is full (10,000 readings, the oldest dropping) and reports the peak RSS of the process
//!    (`VmHWM`): target under 20 MB.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    clippy::format_push_string,
    clippy::map_unwrap_or
)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gateway_agent::meter_read::read_meter;
use gateway_agent::modbus_link::{Endpoint, LinkSettings, ModbusLink};
use gateway_agent::Agent;
use protocol::{AgentConfig, MeterModel};

const METERS: u8 = 64;
const QUEUE: u64 = 10_000;
const MEASURE: Duration = Duration::from_secs(3);

struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// CPU time of the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

fn vm_hwm_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn queued_readings(data_dir: &Path) -> u64 {
    std::fs::read_dir(data_dir.join("queue"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count() as u64
        })
        .unwrap_or(0)
        * u64::from(METERS)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("poll benchmark: run it with `cargo bench -p gateway-agent`");
        return;
    }
    let port = free_port();
    let sim = Sim(Command::new(env!("CARGO_BIN_EXE_wattpay-agent"))
        .args(["simulate", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--acrel", &METERS.to_string(), "--explicit", "0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the simulator"));
    let end = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < end, "simulator did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(link_speed(port));
    rt.block_on(agent_memory(port));
    drop(sim);
}

async fn link_speed(port: u16) {
    let mut link = ModbusLink::new(
        Endpoint::Tcp(format!("127.0.0.1:{port}")),
        LinkSettings {
            timeout: Duration::from_secs(1),
            retries: 0,
            request_gap: Duration::ZERO,
            slave_switch_gap: Duration::ZERO,
        },
    );
    let map = MeterModel::AcrelDdsy1352.register_map();
    for slave in 1..=METERS {
        read_meter(&mut link, slave, &map)
            .await
            .expect("warm-up read");
    }
    let (start, cpu_start) = (Instant::now(), thread_cpu_ns());
    let mut reads = 0u64;
    while start.elapsed() < MEASURE {
        for slave in 1..=METERS {
            read_meter(&mut link, slave, &map).await.expect("read");
            reads += 1;
        }
    }
    let wall = start.elapsed();
    let cpu = thread_cpu_ns() - cpu_start;
    // One block request per Acrel read.
    println!(
        "link: {METERS} meters, {reads} reads in {:.2} s: {:.0} reads/s, {:.0} us wall per read, \
         {:.1} us agent CPU per request",
        wall.as_secs_f64(),
        reads as f64 / wall.as_secs_f64(),
        wall.as_secs_f64() * 1e6 / reads as f64,
        cpu as f64 / 1e3 / reads as f64
    );
}

async fn agent_memory(port: u16) {
    let dir = tempfile::tempdir().unwrap();
    let mut toml = format!(
        r#"gateway_id = "gw-bench"
data_dir = "{}"
[queue]
max_readings = {QUEUE}
[mqtt]
url = "mqtt://127.0.0.1:1"
[[bus]]
name = "sim"
transport = "tcp"
address = "127.0.0.1:{port}"
poll_interval = "1ms"
timeout = "1s"
"#,
        dir.path().display()
    );
    for slave in 1..=METERS {
        toml.push_str(&format!(
            "[[bus.meter]]\nid = \"m-{slave}\"\nslave = {slave}\nmodel = \"acrel-ddsy1352\"\n"
        ));
    }
    let config = AgentConfig::from_toml_str(&toml).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(Agent::run(config, async {
        let _ = stopped.await;
    }));
    let start = Instant::now();
    // Full, then a while longer so the oldest batches are being dropped.
    while queued_readings(dir.path()) + u64::from(METERS) <= QUEUE {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "queue never filled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "agent: {METERS} meters, queue full at {} readings after {:.1} s: peak RSS (VmHWM) {:.1} MB",
        queued_readings(dir.path()),
        start.elapsed().as_secs_f64(),
        vm_hwm_kb() as f64 / 1024.0
    );
    let _ = stop.send(());
    agent.await.unwrap().unwrap();
}
