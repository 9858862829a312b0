//! The agent against a real Mosquitto broker and the simulator: readings arrive, commands obey
//! the seq rules with read-back, garbage is refused, and nothing is lost across broker restarts
//! and a SIGKILL of the agent.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use gateway_agent::simulator::{Simulator, SimulatorConfig, SimulatorHandle};
use gateway_agent::Agent;
use protocol::{AckStatus, AgentConfig, ReadingOutcome, RelayState};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::{
    agent_config, agent_toml, command, eventually, queued_batches, Cloud, Mosquitto, Up,
};

const WAIT: Duration = Duration::from_secs(10);

async fn sim(acrel: u8) -> SimulatorHandle {
    let config = SimulatorConfig::with_meters(
        "127.0.0.1:0".parse().unwrap(),
        acrel,
        1,
        "3600".parse().unwrap(),
    );
    Simulator::start(config).await.unwrap()
}

struct RunningAgent {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

fn start_agent(config: AgentConfig) -> RunningAgent {
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(Agent::run(config, async {
        let _ = rx.await;
    }));
    RunningAgent { stop, task }
}

impl RunningAgent {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_status_and_commands_with_seq_rules() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let sim = sim(1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cloud = Cloud::connect(broker.port).await;
    let agent = start_agent(agent_config(dir.path(), &broker.url(), sim.addr(), 1));

    // Readings arrive with values from both maps, relay only where it can be read.
    let batch = cloud
        .next("a batch with both meters", WAIT, |u| match u {
            Up::Readings(b) if b.readings.len() == 2 => Some(b),
            _ => None,
        })
        .await;
    for r in &batch.readings {
        let ReadingOutcome::Values(v) = &r.outcome else {
            panic!("{r:?}")
        };
        assert!(v.energy_kwh.is_some());
        assert_eq!(v.relay.is_some(), r.meter.as_str() == "m-x");
    }
    let status = cloud
        .next("a status with the bus", WAIT, |u| match u {
            Up::Status(s) if !s.buses.is_empty() => Some(s),
            _ => None,
        })
        .await;
    assert!(status.online);
    assert!(status.buses[0].ok);
    assert_eq!(status.buses[0].meters_ok, 2);

    // Trip with read-back.
    cloud
        .send("commands", command("c1", "m-x", 1, "trip"), false)
        .await;
    let a1 = cloud.ack("c1").await;
    assert_eq!(
        (a1.status, a1.relay),
        (AckStatus::Executed, Some(RelayState::Open))
    );
    assert_eq!(sim.relay(2), Some(RelayState::Open));
    assert_eq!(sim.relay_writes(2), 1);
    // The same command again: the stored ack, no write.
    cloud
        .send("commands", command("c1", "m-x", 1, "trip"), false)
        .await;
    assert_eq!(cloud.ack("c1").await, a1);
    // Another command with a used seq: duplicate, no write.
    cloud
        .send("commands", command("c2", "m-x", 1, "close"), false)
        .await;
    assert_eq!(cloud.ack("c2").await.status, AckStatus::Duplicate);
    assert_eq!(sim.relay_writes(2), 1);
    assert_eq!(sim.relay(2), Some(RelayState::Open));
    // Next seq closes.
    cloud
        .send("commands", command("c3", "m-x", 2, "close"), false)
        .await;
    let a3 = cloud.ack("c3").await;
    assert_eq!(
        (a3.status, a3.relay),
        (AckStatus::Executed, Some(RelayState::Closed))
    );
    // Acrel has no read-back: executed, relay null.
    cloud
        .send("commands", command("c4", "m-1", 1, "trip"), false)
        .await;
    let a4 = cloud.ack("c4").await;
    assert_eq!((a4.status, a4.relay), (AckStatus::Executed, None));
    assert_eq!(sim.relay(1), Some(RelayState::Open));
    cloud
        .send("commands", command("c5", "m-1", 2, "alarm_on"), false)
        .await;
    assert_eq!(cloud.ack("c5").await.status, AckStatus::Unsupported);
    cloud
        .send("commands", command("c6", "m-1", 3, "read_now"), false)
        .await;
    assert_eq!(cloud.ack("c6").await.status, AckStatus::Executed);
    let expired = r#"{"v":1,"id":"c7","meter":"m-1","seq":4,"action":"close","issued_at":"2020-01-01T00:00:00Z","expires_at":"2020-01-01T00:05:00Z"}"#;
    cloud.send("commands", expired, false).await;
    assert_eq!(cloud.ack("c7").await.status, AckStatus::Expired);
    assert_eq!(
        sim.relay(1),
        Some(RelayState::Open),
        "expired close not executed"
    );

    // Garbage on down/commands: counted, the agent goes on.
    for garbage in [
        b"not json".to_vec(),
        br#"{"v":1,"id":5}"#.to_vec(),
        vec![b'x'; 300 * 1024],
    ] {
        cloud.send("commands", garbage, false).await;
    }
    cloud
        .next("rejected_commands = 3", WAIT, |u| match u {
            Up::Status(s) if s.rejected_commands == Some(3) => Some(()),
            _ => None,
        })
        .await;
    cloud
        .send("commands", command("c8", "m-x", 3, "trip"), false)
        .await;
    assert_eq!(cloud.ack("c8").await.status, AckStatus::Executed);

    // A bad config is rejected and reported; a good newer one is applied.
    cloud
        .send(
            "config",
            r#"{"v":1,"gateway":"gw-test","version":"x"}"#,
            true,
        )
        .await;
    let s = cloud
        .next("config_error", WAIT, |u| match u {
            Up::Status(s) if s.config_error.is_some() => Some(s),
            _ => None,
        })
        .await;
    assert_eq!(s.config_version, None);
    let mut cfg = agent_config(dir.path(), &broker.url(), sim.addr(), 1);
    cfg.bus[0].meter.retain(|m| m.id.as_str() == "m-x");
    let good = protocol::encode(&gateway_agent::agent::gateway_config(&cfg, 7)).unwrap();
    cloud.send("config", good, true).await;
    cloud
        .next("config_version 7", WAIT, |u| match u {
            Up::Status(s) if s.config_version == Some(7) && s.config_error.is_none() => Some(()),
            _ => None,
        })
        .await;
    cloud
        .next("a batch with m-x only", WAIT, |u| match u {
            Up::Readings(b) if b.readings.iter().all(|r| r.meter.as_str() == "m-x") => Some(()),
            _ => None,
        })
        .await;
    agent.stop().await;
    cloud
        .next("offline status", WAIT, |u| match u {
            Up::Status(s) if !s.online => Some(()),
            _ => None,
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_then_back_loses_no_reading() {
    let Some(mut broker) = Mosquitto::start() else {
        return;
    };
    let sim = sim(2).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cloud = Cloud::connect(broker.port).await;
    let agent = start_agent(agent_config(dir.path(), &broker.url(), sim.addr(), 2));
    cloud
        .next("a first batch", WAIT, |u| {
            matches!(u, Up::Readings(_)).then_some(())
        })
        .await;
    broker.stop();
    let queued = eventually("batches queued while the broker is down", WAIT, || {
        let q = queued_batches(dir.path());
        (q.len() >= 4).then_some(q)
    })
    .await;
    broker.restart();
    let arrived = eventually(
        "every batch queued during the outage delivered",
        WAIT,
        || {
            let got = cloud.received_batches();
            queued.iter().all(|b| got.contains(b)).then_some(got)
        },
    )
    .await;
    // In order: the first arrival of each batch follows the batch numbers (a batch the broker
    // took just before stopping may legitimately arrive twice; the cloud deduplicates).
    let mut firsts: Vec<u64> = Vec::new();
    for b in arrived {
        if !firsts.contains(&b) {
            firsts.push(b);
        }
    }
    assert!(
        firsts.windows(2).all(|w| w[0] < w[1]),
        "out of order: {firsts:?}"
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_agent_loses_nothing_and_never_reexecutes_a_seq() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let sim = sim(1).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config_path = dir.path().join("agent.toml");
    std::fs::write(
        &config_path,
        agent_toml(&data, &broker.url(), sim.addr(), 1, "100ms"),
    )
    .unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_wattpay-agent"))
            .arg("--config")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut cloud = Cloud::connect(broker.port).await;
    let mut agent = spawn();
    cloud
        .next("a first batch", WAIT, |u| {
            matches!(u, Up::Readings(_)).then_some(())
        })
        .await;
    cloud
        .send("commands", command("k1", "m-x", 10, "trip"), false)
        .await;
    assert_eq!(cloud.ack("k1").await.status, AckStatus::Executed);
    assert_eq!(sim.relay_writes(2), 1);

    agent.kill().unwrap(); // SIGKILL
    agent.wait().unwrap();
    let killed_at = chrono::Utc::now();
    let left = queued_batches(&data);
    let before_max = left.iter().copied().max().unwrap_or(0);

    let mut agent = spawn();
    // Commands are not retained: send once the new agent is subscribed (its status says so).
    cloud
        .next("the restarted agent online", WAIT, |u| match u {
            Up::Status(s) if s.online && s.ts > killed_at => Some(()),
            _ => None,
        })
        .await;
    // The resend after the restart gets the stored ack; the relay is not written again.
    cloud
        .send("commands", command("k1", "m-x", 10, "trip"), false)
        .await;
    let again = cloud.ack("k1").await;
    assert_eq!(
        (again.status, again.relay),
        (AckStatus::Executed, Some(RelayState::Open))
    );
    cloud
        .send("commands", command("k2", "m-x", 10, "close"), false)
        .await;
    assert_eq!(cloud.ack("k2").await.status, AckStatus::Duplicate);
    assert_eq!(sim.relay_writes(2), 1, "no seq executed twice");

    let received = eventually(
        "every batch left at the kill delivered, then newer ones",
        WAIT,
        || {
            let got: BTreeSet<u64> = cloud.received_batches().into_iter().collect();
            let done = left.iter().all(|b| got.contains(b)) && got.iter().any(|b| *b > before_max);
            done.then_some(got)
        },
    )
    .await;
    assert!(left.iter().all(|b| received.contains(b)));
    agent.kill().unwrap();
    agent.wait().unwrap();
}
