//! The `wattpay-agent` command line: run the agent, check a config, probe a meter, run the
//! simulator. `main.rs` only calls [`main`].

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use protocol::{AgentConfig, ConfigDuration, MeterModel};
use rust_decimal::Decimal;

use crate::meter_read::{plan, read_meter};
use crate::modbus_link::{Endpoint, LinkSettings, ModbusLink};
use crate::simulator::{Simulator, SimulatorConfig};

#[derive(Debug, Parser)]
#[command(name = "wattpay-agent", version, about = "Wattpay gateway agent")]
pub struct Cli {
    /// The agent's TOML configuration.
    #[arg(long, global = true, env = "WATTPAY_AGENT_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the agent (the default).
    Run,
    /// Validate the configuration and print what would be polled.
    CheckConfig,
    /// Read one meter once and print every decoded value and the raw registers.
    Probe {
        /// A meter id of the configuration.
        #[arg(long)]
        meter: Option<String>,
        /// Or a Modbus TCP address (`host:port`) ...
        #[arg(long)]
        tcp: Option<String>,
        /// ... or an RTU-over-TCP address.
        #[arg(long)]
        rtu_over_tcp: Option<String>,
        #[arg(long, default_value_t = 1)]
        slave: u8,
        #[arg(long, default_value = "acrel-ddsy1352")]
        model: String,
        #[arg(long, default_value = "2s")]
        timeout: ConfigDuration,
    },
    /// Serve simulated meters over Modbus TCP.
    Simulate {
        #[arg(long, default_value = "127.0.0.1:5020")]
        listen: SocketAddr,
        /// Meters with the Acrel preset map, on slaves 1..
        #[arg(long, default_value_t = 4)]
        acrel: u8,
        /// Meters with the explicit example map (coil relay with read-back), after them.
        #[arg(long, default_value_t = 1)]
        explicit: u8,
        #[arg(long, default_value = "1.5")]
        load_kw: Decimal,
        #[arg(long, default_value = "0ms")]
        reply_delay: ConfigDuration,
        /// Leave every n-th request unanswered.
        #[arg(long)]
        drop_every: Option<NonZeroU32>,
        /// Energy grows this many times faster than real time.
        #[arg(long, default_value = "1")]
        time_scale: Decimal,
        /// Keep energy and relay states here across restarts.
        #[arg(long)]
        state_file: Option<PathBuf>,
    },
}

/// Reads and validates the agent's configuration file.
pub fn load_config(path: &Path) -> anyhow::Result<AgentConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    AgentConfig::from_toml_str(&text).with_context(|| format!("in {}", path.display()))
}

fn config_path(cli: &Cli) -> anyhow::Result<&Path> {
    cli.config
        .as_deref()
        .context("--config PATH is required (or WATTPAY_AGENT_CONFIG)")
}

/// What `check-config` prints.
pub fn describe(config: &AgentConfig) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "gateway {} -> {}", config.gateway_id, config.mqtt.url);
    let _ = writeln!(
        out,
        "data_dir {} (queue bound {} readings)",
        config.data_dir.display(),
        config.max_readings()
    );
    for bus in &config.bus {
        let at = bus
            .address
            .as_deref()
            .or(bus.device.as_deref())
            .unwrap_or("-");
        let _ = writeln!(
            out,
            "bus {} ({:?} {at}): every {}, timeout {}, retries {}",
            bus.name,
            bus.transport,
            bus.poll_interval(),
            bus.timeout(),
            bus.retries()
        );
        for m in &bus.meter {
            let kind = m
                .model
                .map_or_else(|| "explicit map".to_owned(), |model| model.to_string());
            let blocks = m.register_map().map(|map| plan(&map)).unwrap_or_default();
            let reads: Vec<String> = blocks
                .iter()
                .map(|b| format!("{:?}@{:#06x}x{}", b.function, b.start, b.count))
                .collect();
            let _ = writeln!(
                out,
                "  meter {} slave {} {kind}: {}",
                m.id,
                m.slave,
                reads.join(", ")
            );
        }
    }
    out
}

pub async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command.as_ref().unwrap_or(&Cmd::Run) {
        Cmd::Run => {
            let config = load_config(config_path(&cli)?)?;
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            crate::Agent::run(config, shutdown).await
        }
        Cmd::CheckConfig => {
            let config = load_config(config_path(&cli)?)?;
            print!("{}", describe(&config));
            println!("configuration OK");
            Ok(())
        }
        Cmd::Probe {
            meter,
            tcp,
            rtu_over_tcp,
            slave,
            model,
            timeout,
        } => {
            let settings = LinkSettings {
                timeout: timeout.as_std(),
                retries: 0,
                request_gap: std::time::Duration::ZERO,
                slave_switch_gap: std::time::Duration::ZERO,
            };
            let (mut link, slave, map) = if let Some(id) = meter {
                let config = load_config(config_path(&cli)?)?;
                let (bus, m) = config
                    .bus
                    .iter()
                    .find_map(|b| b.meter.iter().find(|m| m.id.as_str() == id).map(|m| (b, m)))
                    .with_context(|| format!("meter {id} is not in the configuration"))?;
                let map = m.register_map().context("meter has no register map")?;
                (ModbusLink::for_bus(bus), m.slave, map)
            } else {
                let endpoint = match (tcp, rtu_over_tcp) {
                    (Some(a), None) => Endpoint::Tcp(a.clone()),
                    (None, Some(a)) => Endpoint::RtuOverTcp(a.clone()),
                    _ => anyhow::bail!("give --meter, or exactly one of --tcp / --rtu-over-tcp"),
                };
                let model: MeterModel =
                    serde_json::from_value(serde_json::Value::String(model.clone()))
                        .with_context(|| format!("unknown model {model}"))?;
                (
                    ModbusLink::new(endpoint, settings),
                    *slave,
                    model.register_map(),
                )
            };
            match read_meter(&mut link, slave, &map).await {
                Ok((values, raw)) => {
                    for r in raw {
                        println!(
                            "{:?} @ {:#06x} x{}: {:04x?}",
                            r.block.function, r.block.start, r.block.count, r.words
                        );
                    }
                    println!("{values:#?}");
                    Ok(())
                }
                Err(e) => anyhow::bail!("{e}\n{}", advice(&e)),
            }
        }
        Cmd::Simulate {
            listen,
            acrel,
            explicit,
            load_kw,
            reply_delay,
            drop_every,
            time_scale,
            state_file,
        } => {
            let mut config = SimulatorConfig::with_meters(*listen, *acrel, *explicit, *load_kw);
            config.reply_delay = reply_delay.as_std();
            config.drop_every = *drop_every;
            config.time_scale = *time_scale;
            config.state_file.clone_from(state_file);
            let sim = Simulator::start(config).await?;
            println!(
                "simulating {} meters on {}",
                acrel.saturating_add(*explicit),
                sim.addr()
            );
            let _ = tokio::signal::ctrl_c().await;
            sim.shutdown().await;
            Ok(())
        }
    }
}

/// What a technician should check for a failed read.
pub fn advice(e: &crate::meter_read::ReadError) -> &'static str {
    use crate::meter_read::ReadError;
    use crate::modbus_link::LinkError;
    match e {
        ReadError::Link(LinkError::Timeout(_)) => {
            "no answer at all: check the slave id, the baud rate and parity, and that A/B are not swapped"
        }
        ReadError::Link(LinkError::Exception(1 | 2)) => {
            "the meter answers but refuses these registers: the model or register map is wrong for this meter"
        }
        ReadError::Link(LinkError::Exception(_)) => "the meter answers with an exception: check the model",
        ReadError::Link(LinkError::Connect(_)) => "could not open the link: check the address or serial device",
        ReadError::Link(LinkError::Protocol(_)) | ReadError::Decode { .. } => {
            "garbled answer: wrong baud/parity, two masters on the bus, or a wrong register type"
        }
        ReadError::Link(LinkError::Io(_)) => "the link broke: check the cable or the serial server",
    }
}
