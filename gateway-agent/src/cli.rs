//! The `wattpay-agent` command line: run the agent, check a config, and the technician's tools
//! (probe a meter, [`scan`] a bus, [`relay_test`] a meter), and run the simulator. `main.rs`
//! only calls [`main`].

pub mod configured_meter;
pub mod relay_test;
pub mod scan;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use protocol::gateway_config::Parity;
use protocol::{AgentConfig, ConfigDuration, MeterModel};
use rust_decimal::Decimal;

use crate::meter_read::{plan, read_meter};
use crate::modbus_link::{Endpoint, LinkSettings, ModbusLink};
use crate::simulator::{Simulator, SimulatorConfig};
use configured_meter::configured_meter;
use scan::{LineSetting, ScanOptions, ScanTarget};

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
    /// Find the slave ids and line settings that answer on a serial port or TCP address.
    Scan {
        /// A serial device (tries every --baud and --parity) ...
        #[arg(long)]
        serial: Option<String>,
        /// ... or a Modbus TCP address (`host:port`) ...
        #[arg(long)]
        tcp: Option<String>,
        /// ... or an RTU-over-TCP address (a serial server).
        #[arg(long)]
        rtu_over_tcp: Option<String>,
        #[arg(long, value_delimiter = ',', default_value = "9600,2400")]
        baud: Vec<u32>,
        /// Parities to try (8 data bits, 1 stop bit): N, E, O.
        #[arg(long, value_delimiter = ',', default_value = "N,E", value_parser = parse_parity)]
        parity: Vec<Parity>,
        /// Slave ids to try, `first-last`.
        #[arg(long, default_value = "1-247", value_parser = parse_slaves)]
        slaves: std::ops::RangeInclusive<u8>,
        /// Wait this long for each answer.
        #[arg(long, default_value = "300ms")]
        timeout: ConfigDuration,
    },
    /// Trip and close one meter's relay with read-back, after a confirmation.
    RelayTest {
        /// A meter id of the configuration.
        #[arg(long)]
        meter: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// How long to leave the relay switched before switching it back.
        #[arg(long, default_value = "2s")]
        hold: ConfigDuration,
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

fn parse_parity(s: &str) -> Result<Parity, String> {
    match s.trim() {
        "N" | "n" => Ok(Parity::N),
        "E" | "e" => Ok(Parity::E),
        "O" | "o" => Ok(Parity::O),
        other => Err(format!("parity {other:?} is not N, E or O")),
    }
}

fn parse_slaves(s: &str) -> Result<std::ops::RangeInclusive<u8>, String> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let parse = |x: &str| {
        x.trim()
            .parse::<u8>()
            .ok()
            .filter(|v| (1..=247).contains(v))
            .ok_or_else(|| format!("slave id {x:?} is not in 1..=247"))
    };
    Ok(parse(a)?..=parse(b)?)
}

/// Reads and validates the agent's configuration file.
pub fn load_config(path: &Path) -> anyhow::Result<AgentConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config =
        AgentConfig::from_toml_str(&text).with_context(|| format!("in {}", path.display()))?;
    crate::dtu_server::check_patterns(&config.bus)
        .map_err(|e| anyhow::anyhow!("in {}: {e}", path.display()))?;
    Ok(config)
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
            .clone()
            .or_else(|| bus.device.clone())
            .or_else(|| {
                let id = bus.dtu_id.as_deref().unwrap_or("?");
                bus.listen.map(|l| format!("listening on {l} for DTU {id}"))
            })
            .unwrap_or_else(|| "-".to_owned());
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
            let mut hub = None;
            let (mut link, slave, map) = if let Some(id) = meter {
                let config = load_config(config_path(&cli)?)?;
                let m = configured_meter(&config, id).await?;
                hub = Some(m.hub);
                (m.link, m.slave, m.map)
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
            let result = read_meter(&mut link, slave, &map).await;
            drop(hub);
            match result {
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
        Cmd::Scan {
            serial,
            tcp,
            rtu_over_tcp,
            baud,
            parity,
            slaves,
            timeout,
        } => {
            let target = match (serial, tcp, rtu_over_tcp) {
                (Some(d), None, None) => ScanTarget::Serial(d.clone()),
                (None, Some(a), None) => ScanTarget::Tcp(a.clone()),
                (None, None, Some(a)) => ScanTarget::RtuOverTcp(a.clone()),
                _ => anyhow::bail!("give exactly one of --serial, --tcp, --rtu-over-tcp"),
            };
            let options = ScanOptions {
                slaves: slaves.clone(),
                settings: baud
                    .iter()
                    .flat_map(|&baud| {
                        parity
                            .iter()
                            .map(move |&parity| LineSetting { baud, parity })
                    })
                    .collect(),
                timeout: timeout.as_std(),
            };
            println!(
                "scanning {target}, slave ids {}-{} ...",
                slaves.start(),
                slaves.end()
            );
            let found = scan::scan(&target, &options, |line| println!("{line}"))
                .await
                .map_err(|e| anyhow::anyhow!("{e}: check the device or address"))?;
            print!("{}", scan::summary(&target, &options, &found));
            anyhow::ensure!(
                found
                    .iter()
                    .any(|f| !matches!(f.answer, scan::Answer::Garbled(_))),
                "no meter answered cleanly"
            );
            Ok(())
        }
        Cmd::RelayTest { meter, yes, hold } => {
            let config = load_config(config_path(&cli)?)?;
            relay_test::command(&config, meter, *yes, *hold).await
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
            "no answer at all: check the slave id, the baud rate and parity, and that A/B are not swapped (`wattpay-agent scan` finds ids and settings)"
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
