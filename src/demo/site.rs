//! The simulated building: one Modbus TCP meter simulator per bus (registers kept in the data
//! directory, so a restart never looks like a register going down), the gateway agent polling
//! them, and a load driver that gives shops their daytime and flats their evening load.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Timelike as _;
use gateway_agent::simulator::{SimMeterConfig, Simulator, SimulatorConfig, SimulatorHandle};
use protocol::{MeterModel, RelayState};
use rust_decimal::Decimal;
use sea_orm::DatabaseConnection;
use serde_json::json;
use store::ids::OrgId;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{seed, BUSES, GATEWAY_ID};

/// One meter of the running demo.
#[derive(Debug, Clone)]
pub struct DemoMeter {
    pub wire_id: String,
    pub bus: usize,
    pub slave: u8,
    /// The explicit map has a relay read-back (coil 0); the Acrel preset has none.
    pub explicit: bool,
    /// Seeded with a low balance and a heavy load, to show alarm and trip quickly.
    pub special: bool,
    pub shop: bool,
}

/// The simulators, the agent and the load driver.
pub struct Site {
    pub meters: Vec<DemoMeter>,
    pub simulators: Arc<Vec<SimulatorHandle>>,
    agent_stop: Option<oneshot::Sender<()>>,
    agent: JoinHandle<anyhow::Result<()>>,
    loads: JoinHandle<()>,
}

/// Base loads in kW (before `--speed`).
fn load_kw(m: &DemoMeter, local_hour: u32) -> Decimal {
    if m.special {
        return Decimal::from(6);
    }
    // A little variety between neighbours, stable over time.
    let jitter = Decimal::new(i64::from(m.slave % 5) * 15, 2);
    let base = match (m.shop, local_hour) {
        (true, 9..=20) => Decimal::new(35, 1),
        (true, _) => Decimal::new(2, 1),
        (false, 18..=22) => Decimal::new(20, 1),
        (false, 7..=8) => Decimal::new(12, 1),
        (false, _) => Decimal::new(4, 1),
    };
    base + jitter
}

fn beijing_hour() -> u32 {
    (chrono::Utc::now() + chrono::Duration::hours(8)).hour()
}

impl Site {
    pub async fn start(
        db: &DatabaseConnection,
        org: OrgId,
        data_dir: &Path,
        mqtt_url: &str,
        speed: u32,
    ) -> anyhow::Result<Site> {
        let rows = store::meter::list(db, org, None, store::Page::new(1, 200))
            .await?
            .items;
        let mut meters = Vec::new();
        let mut explicit_seen = [0u8; 3];
        let mut sorted = rows;
        sorted.sort_by(|a, b| (&a.bus, a.slave).cmp(&(&b.bus, b.slave)));
        for m in &sorted {
            let Some(bus) = BUSES.iter().position(|b| *b == m.bus) else {
                continue;
            };
            let slave = u8::try_from(m.slave).context("slave id")?;
            let explicit = m.model.is_none();
            let explicit_index = explicit.then(|| {
                explicit_seen[bus] += 1;
                explicit_seen[bus] - 1
            });
            let layout = seed::Layout {
                bus,
                slave,
                acrel: !explicit,
            };
            meters.push(DemoMeter {
                wire_id: m.wire_id.clone(),
                bus,
                slave,
                explicit,
                special: seed::is_special(&layout, explicit_index),
                shop: bus == 2,
            });
        }
        let sim_dir = data_dir.join("simulator");
        std::fs::create_dir_all(&sim_dir)?;
        let hour = beijing_hour();
        let speed = Decimal::from(speed);
        let mut simulators = Vec::new();
        for (bus, name) in BUSES.iter().enumerate() {
            let mut config =
                SimulatorConfig::with_meters(([127, 0, 0, 1], 0).into(), 0, 0, Decimal::ZERO);
            config.state_file = Some(sim_dir.join(format!("{name}.json")));
            config.meters = meters
                .iter()
                .filter(|m| m.bus == bus)
                .map(|m| SimMeterConfig {
                    slave: m.slave,
                    map: if m.explicit {
                        gateway_agent::simulator::explicit_map()
                    } else {
                        MeterModel::AcrelDdsy1352.register_map()
                    },
                    load_kw: load_kw(m, hour) * speed,
                    energy_kwh: Decimal::from(1_000 + u32::from(m.slave) * 37),
                    relay: RelayState::Closed,
                })
                .collect();
            simulators.push(Simulator::start(config).await?);
        }

        let buses: Vec<_> = BUSES
            .iter()
            .enumerate()
            .map(|(bus, name)| {
                let list: Vec<_> = meters
                    .iter()
                    .filter(|m| m.bus == bus)
                    .map(|m| {
                        if m.explicit {
                            json!({"id": m.wire_id, "slave": m.slave,
                                   "registers": gateway_agent::simulator::explicit_map()})
                        } else {
                            json!({"id": m.wire_id, "slave": m.slave, "model": "acrel-ddsy1352"})
                        }
                    })
                    .collect();
                json!({
                    "name": name, "transport": "tcp",
                    "address": simulators[bus].addr().to_string(),
                    "poll_interval": "5s", "timeout": "1s", "retries": 1,
                    "meter": list,
                })
            })
            .collect();
        let agent_config: protocol::AgentConfig = serde_json::from_value(json!({
            "gateway_id": GATEWAY_ID,
            "data_dir": data_dir.join("agent"),
            "status_interval": "15s",
            "mqtt": {"url": mqtt_url, "client_id": format!("wattpay-agent-{GATEWAY_ID}")},
            "bus": buses,
        }))
        .context("building the demo agent's configuration")?;
        let (agent_stop, stop_rx) = oneshot::channel::<()>();
        let agent = tokio::spawn(gateway_agent::Agent::run(agent_config, async move {
            let _ = stop_rx.await;
        }));

        let simulators = Arc::new(simulators);
        let handles = Arc::clone(&simulators);
        let driven = meters.clone();
        let loads = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let hour = beijing_hour();
                for m in &driven {
                    handles[m.bus].set_load_kw(m.slave, load_kw(m, hour) * speed);
                }
            }
        });
        Ok(Site {
            meters,
            simulators,
            agent_stop: Some(agent_stop),
            agent,
            loads,
        })
    }

    /// The simulator serving `meter` and its slave id.
    pub fn simulator_of(&self, meter: &DemoMeter) -> &SimulatorHandle {
        &self.simulators[meter.bus]
    }

    pub async fn stop(mut self) {
        self.loads.abort();
        if let Some(stop) = self.agent_stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(Duration::from_secs(10), &mut self.agent).await {
            Ok(Ok(Err(e))) => {
                tracing::warn!(error = %format!("{e:#}"), "agent stopped with an error");
            }
            Ok(_) => {}
            Err(_) => self.agent.abort(),
        }
        // The load driver held the only other reference; it is aborted and awaited above.
        let _ = (&mut self.loads).await;
        match Arc::try_unwrap(self.simulators) {
            Ok(simulators) => {
                for sim in simulators {
                    sim.shutdown().await;
                }
            }
            // Still shared: dropping the handles stops the servers after saving their state.
            Err(shared) => drop(shared),
        }
    }
}
