//! A meter of the configuration opened for a technician's tool (`probe`, `relay-test`),
//! including a `dtu-server` bus, where the tool listens and waits for the DTU to dial in.

use anyhow::Context as _;
use protocol::{AgentConfig, RegisterMap, Transport};

use crate::dtu_server::DtuHub;
use crate::modbus_link::{Endpoint, ModbusLink};

/// A configured meter opened for a tool.
pub struct ConfiguredMeter {
    pub link: ModbusLink,
    pub slave: u8,
    pub map: RegisterMap,
    pub bus: String,
    /// Keeps a `dtu-server` bus's listener up while the tool runs.
    pub hub: DtuHub,
}

/// How long a tool waits for a `dtu-server` bus's DTU to dial in.
const DTU_WAIT: std::time::Duration = std::time::Duration::from_secs(90);

/// Opens the link to meter `id` of `config`; on a `dtu-server` bus, listens and waits for the
/// DTU (the agent service must be stopped: it holds the listen port).
pub async fn configured_meter(config: &AgentConfig, id: &str) -> anyhow::Result<ConfiguredMeter> {
    let (bus, m) = config
        .bus
        .iter()
        .find_map(|b| b.meter.iter().find(|m| m.id.as_str() == id).map(|m| (b, m)))
        .with_context(|| format!("meter {id} is not in the configuration"))?;
    let map = m.register_map().context("meter has no register map")?;
    let hub = DtuHub::default();
    let slots = hub.configure(std::slice::from_ref(bus));
    let link = ModbusLink::for_bus(bus, &slots);
    if bus.transport == Transport::DtuServer {
        if let Endpoint::Dtu(slot) = link.endpoint() {
            eprintln!(
                "waiting up to {DTU_WAIT:?} for DTU {} to connect to {} ...",
                slot.dtu_id, slot.listen
            );
            anyhow::ensure!(
                slot.wait_connected(DTU_WAIT).await,
                "DTU {} did not connect to {}: check the DTU's server address and registration \
                 packet (the log shows what unknown DTUs sent), and that the agent service is \
                 stopped",
                slot.dtu_id,
                slot.listen
            );
        }
    }
    Ok(ConfiguredMeter {
        link,
        slave: m.slave,
        map,
        bus: bus.name.clone(),
        hub,
    })
}
