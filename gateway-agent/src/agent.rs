//! The agent as a whole: opens the disk state, runs one task per bus, and hands the MQTT side
//! ([`crate::mqtt`]) what it needs to publish and to apply configs and commands.
//!
//! The buses come from the TOML file until the cloud sends a `down/config`; an applied config is
//! saved as `data_dir/gateway_config.json` and used from then on, also after a restart without a
//! broker, so the meters the cloud asked for keep being polled. A config is applied only when
//! it is for this gateway, valid, and of a newer version than the running one; otherwise the
//! running config stays and the reason goes into the status as `config_error`.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use protocol::{AgentConfig, BusConfig, Command, GatewayConfig, MeterId};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::bus::{BusMeter, BusTask};
use crate::command_log::CommandLog;
use crate::durable_file;
use crate::modbus_link::ModbusLink;
use crate::queue::ReadingQueue;
use crate::shared::{lock, Shared};

/// Commands waiting for one bus; more are refused (the cloud retries) rather than piling up.
const BUS_COMMAND_QUEUE: usize = 64;

/// The running bus tasks and where to send each meter's commands.
#[derive(Debug)]
pub struct Buses {
    routes: HashMap<MeterId, mpsc::Sender<Command>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Buses {
    pub fn start(configs: &[BusConfig], shared: &Arc<Shared>) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let mut routes = HashMap::new();
        let mut tasks = Vec::new();
        let dtu = shared.dtu.configure(configs);
        for config in configs {
            let (tx, rx) = mpsc::channel(BUS_COMMAND_QUEUE);
            let meters: Vec<BusMeter> = config.meter.iter().filter_map(BusMeter::of).collect();
            for m in &meters {
                routes.insert(m.id.clone(), tx.clone());
            }
            let task = BusTask {
                config: config.clone(),
                meters,
                link: ModbusLink::for_bus(config, &dtu),
                commands: rx,
                shared: Arc::clone(shared),
                stop: stop_rx.clone(),
            };
            tasks.push(tokio::spawn(task.run()));
        }
        let names: Vec<String> = configs.iter().map(|b| b.name.clone()).collect();
        shared.retain_buses(&names);
        Self {
            routes,
            stop,
            tasks,
        }
    }

    /// Hands a command to its meter's bus; gives it back when no bus has that meter or the bus
    /// is too busy.
    pub fn route(&self, cmd: Command) -> Result<(), Box<(Command, &'static str)>> {
        match self.routes.get(&cmd.meter) {
            None => Err(Box::new((cmd, "meter is not configured on this gateway"))),
            Some(tx) => tx.try_send(cmd).map_err(|e| {
                Box::new((
                    e.into_inner(),
                    "the meter's bus has too many commands waiting",
                ))
            }),
        }
    }

    /// Stops every bus after its current request and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// The agent's lasting state besides the queue and the command log.
#[derive(Debug)]
pub struct AgentState {
    pub config: AgentConfig,
    pub shared: Arc<Shared>,
    pub buses: Option<Buses>,
}

fn saved_config_path(data_dir: &Path) -> PathBuf {
    data_dir.join("gateway_config.json")
}

impl AgentState {
    /// Applies a `down/config` payload; `Ok(false)` when it is not newer (nothing to do).
    pub async fn apply_config(&mut self, payload: &[u8]) -> Result<bool, String> {
        let config = protocol::decode_gateway_config(payload).map_err(|e| e.to_string())?;
        crate::dtu_server::check_patterns(&config.bus)?;
        if config.gateway != self.config.gateway_id {
            return Err(format!(
                "config is for gateway {}, not {}",
                config.gateway, self.config.gateway_id
            ));
        }
        let running = *lock(&self.shared.config_version);
        if running.is_some_and(|v| config.version <= v) {
            if running.is_some_and(|v| config.version < v) {
                return Err(format!(
                    "config version {} is older than the running version {}",
                    config.version,
                    running.unwrap_or_default()
                ));
            }
            return Ok(false);
        }
        let bytes = protocol::encode(&config).map_err(|e| e.to_string())?;
        let path = saved_config_path(&self.config.data_dir);
        durable_file::write(&path, &bytes)
            .map_err(|e| format!("could not save the config: {e}"))?;
        if let Some(old) = self.buses.take() {
            old.stop().await;
        }
        self.buses = Some(Buses::start(&config.bus, &self.shared));
        self.config.bus = config.bus;
        *lock(&self.shared.config_version) = Some(config.version);
        *lock(&self.shared.config_error) = None;
        tracing::info!(version = config.version, "gateway config applied");
        Ok(true)
    }
}

pub struct Agent;

impl Agent {
    /// Runs the agent until `shutdown` completes: polls, publishes, executes commands.
    pub async fn run(
        config: AgentConfig,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        // Several crates may enable rustls providers; the agent decides. Already set is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut config = config;
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data_dir {}", config.data_dir.display()))?;
        let queue = ReadingQueue::open(
            &config.data_dir,
            config.gateway_id.clone(),
            config.max_readings(),
        )?;
        let log = CommandLog::open(&config.data_dir)?;
        let (shared, acks) = Shared::new(config.gateway_id.clone(), queue, log);
        let shared = Arc::new(shared);
        if let Some(bytes) = durable_file::read(&saved_config_path(&config.data_dir))? {
            match protocol::decode_gateway_config(&bytes) {
                Ok(saved) if saved.gateway == config.gateway_id => {
                    tracing::info!(
                        version = saved.version,
                        "using the config the cloud sent last"
                    );
                    *lock(&shared.config_version) = Some(saved.version);
                    config.bus = saved.bus;
                }
                Ok(_) => tracing::warn!("saved gateway config is for another gateway; ignored"),
                Err(e) => tracing::warn!(error = %e, "saved gateway config unreadable; ignored"),
            }
        }
        let buses = Buses::start(&config.bus, &shared);
        let mut state = AgentState {
            config,
            shared,
            buses: Some(buses),
        };
        let result = crate::mqtt::run(&mut state, acks, shutdown).await;
        if let Some(buses) = state.buses.take() {
            buses.stop().await;
        }
        result
    }
}

/// A gateway config carrying the buses of an agent config (for tests and tools).
pub fn gateway_config(config: &AgentConfig, version: u64) -> GatewayConfig {
    GatewayConfig {
        v: protocol::V1,
        gateway: config.gateway_id.clone(),
        version,
        bus: config.bus.clone(),
    }
}
