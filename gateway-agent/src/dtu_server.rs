//! The `dtu-server` transport: 4G DTUs in transparent mode dial *us* (they sit behind carrier
//! NAT), announce themselves with a registration packet, and then carry Modbus RTU frames to
//! and from their RS485 bus. Each registered DTU is one bus.
//!
//! Rules kept:
//! - Several buses may share one `listen` address; a connection belongs to the bus whose DTU
//!   its first packet identifies (see [`Identity`]). An unknown one is logged with what it sent
//!   (so a technician can copy the id into `dtu_id`) and closed.
//! - A DTU that connects again replaces its old connection, which is closed: after a 4G
//!   drop-out the old socket is usually dead without either side knowing.
//! - The TCP connection outlives Modbus timeouts. The link's "fresh connection" after a timeout
//!   is a fresh *session* on the same socket ([`DtuSlot::attach`]); bytes arriving when no
//!   request is waiting (a late reply) are dropped, so they are never taken for the next answer.
//! - Heartbeats (and repeated registration packets) are stripped between frames
//!   ([`inbound`]) before the RTU decoder sees anything.

pub mod inbound;
mod pump;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::{BusConfig, Transport};
use regex::bytes::Regex;
use tokio::io::{AsyncReadExt as _, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::modbus_link::LinkError;
use crate::shared::lock;
use inbound::{InboundFilter, Pattern};

/// How long a new connection may take to say who it is.
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(10);
/// Quiet time that ends a registration packet still matching nothing.
const REGISTRATION_QUIET: Duration = Duration::from_secs(1);
/// Longest registration packet we wait for.
const MAX_REGISTRATION: usize = 512;
/// Pause before binding a listen address again after a failure (port in use).
const REBIND_DELAY: Duration = Duration::from_secs(5);

/// How a DTU's registration packet names it.
#[derive(Debug, Clone)]
pub enum Identity {
    /// The packet is exactly these bytes: the `hex:` pattern, or without a pattern the
    /// `dtu_id` itself as text (what most DTUs send: their IMEI or a configured string).
    Exact(Vec<u8>),
    /// The expression matches the packet and its group `id` (else group 1, else the whole
    /// match) equals `dtu_id`.
    Regex(Regex),
}

/// One DTU we expect: what identifies it, and its current connection.
pub struct DtuSlot {
    pub dtu_id: String,
    pub listen: SocketAddr,
    identity: Identity,
    heartbeat: Option<Pattern>,
    /// Where to hand sessions to the current connection's pump.
    conn: Mutex<Option<mpsc::Sender<DuplexStream>>>,
    /// Bumped on every registration, to wait for one.
    registered: watch::Sender<u64>,
    /// Why the listener is not listening, if it is not.
    listen_error: Mutex<Option<String>>,
}

impl std::fmt::Debug for DtuSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtuSlot")
            .field("dtu_id", &self.dtu_id)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

impl DtuSlot {
    /// The slot of a `dtu-server` bus; `Err` for a pattern that does not compile.
    pub fn of(bus: &BusConfig) -> Result<Self, String> {
        let (Some(listen), Some(dtu_id)) = (bus.listen, bus.dtu_id.clone()) else {
            return Err(format!(
                "bus {}: dtu-server needs listen and dtu_id",
                bus.name
            ));
        };
        let identity = match &bus.registration {
            None => Identity::Exact(dtu_id.clone().into_bytes()),
            Some(p) => match Pattern::compile(p)? {
                Pattern::Bytes(b) => Identity::Exact(b),
                Pattern::Regex(_) => Identity::Regex(
                    Regex::new(p.regex().unwrap_or_default())
                        .map_err(|e| format!("registration {:?}: {e}", p.as_str()))?,
                ),
            },
        };
        let heartbeat = bus.heartbeat.as_ref().map(Pattern::compile).transpose()?;
        Ok(Self {
            dtu_id,
            listen,
            identity,
            heartbeat,
            conn: Mutex::new(None),
            registered: watch::channel(0).0,
            listen_error: Mutex::new(None),
        })
    }

    /// Bytes of `packet` this DTU's registration takes, or whether more bytes could still
    /// make it match.
    fn identify(&self, packet: &[u8]) -> Match {
        match &self.identity {
            Identity::Exact(b) if packet.starts_with(b) => Match::Yes(b.len()),
            Identity::Exact(b) if b.starts_with(packet) => Match::MaybeLater,
            Identity::Exact(_) => Match::No,
            Identity::Regex(r) => {
                let Some(caps) = r.captures(packet) else {
                    return Match::MaybeLater;
                };
                let whole = caps.get(0).map_or(0, |m| m.end());
                let id = caps
                    .name("id")
                    .or_else(|| caps.get(1))
                    .or_else(|| caps.get(0));
                match id {
                    Some(id) if id.as_bytes() == self.dtu_id.as_bytes() => Match::Yes(whole),
                    _ => Match::No,
                }
            }
        }
    }

    /// Starts a Modbus session on the DTU's connection; the other end is the RTU stream.
    pub fn attach(&self) -> Result<DuplexStream, LinkError> {
        if let Some(e) = lock(&self.listen_error).clone() {
            return Err(LinkError::Connect(e));
        }
        let Some(tx) = lock(&self.conn).clone() else {
            return Err(LinkError::Connect(format!(
                "DTU {} has not connected to {} yet",
                self.dtu_id, self.listen
            )));
        };
        let (near, far) = tokio::io::duplex(1024);
        tx.try_send(far)
            .map_err(|_| LinkError::Connect(format!("DTU {} is disconnected", self.dtu_id)))?;
        Ok(near)
    }

    /// Whether a DTU connection is up now.
    pub fn is_connected(&self) -> bool {
        lock(&self.conn).as_ref().is_some_and(|tx| !tx.is_closed())
    }

    /// Waits up to `limit` for the DTU to be connected (for the technician's tools).
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        let mut rx = self.registered.subscribe();
        let wait = async {
            while !self.is_connected() {
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    fn install(&self, tx: mpsc::Sender<DuplexStream>, peer: SocketAddr) {
        // Dropping the old sender ends the old pump, which closes the old socket.
        let old = lock(&self.conn).replace(tx);
        if old.is_some_and(|o| !o.is_closed()) {
            tracing::info!(dtu = %self.dtu_id, %peer, "DTU reconnected; its old connection is closed");
        } else {
            tracing::info!(dtu = %self.dtu_id, %peer, "DTU registered");
        }
        self.registered.send_modify(|n| *n += 1);
    }
}

enum Match {
    Yes(usize),
    MaybeLater,
    No,
}

struct Listener {
    slots: Arc<Mutex<Vec<Arc<DtuSlot>>>>,
    task: JoinHandle<()>,
}

/// The listeners of every `dtu-server` bus, kept across config changes so that a DTU whose
/// bus is unchanged keeps its connection.
#[derive(Default)]
pub struct DtuHub {
    listeners: Mutex<HashMap<SocketAddr, Listener>>,
}

impl std::fmt::Debug for DtuHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addrs: Vec<SocketAddr> = lock(&self.listeners).keys().copied().collect();
        f.debug_struct("DtuHub").field("listeners", &addrs).finish()
    }
}

impl Drop for DtuHub {
    fn drop(&mut self) {
        for (_, l) in lock(&self.listeners).drain() {
            l.task.abort();
        }
    }
}

impl DtuHub {
    /// Listens for the DTUs of `buses` and stops listening for any other; returns the slot of
    /// each `dtu-server` bus by name (or why it cannot work). Must run inside a Tokio runtime.
    pub fn configure(&self, buses: &[BusConfig]) -> HashMap<String, Result<Arc<DtuSlot>, String>> {
        let mut listeners = lock(&self.listeners);
        let mut out = HashMap::new();
        let mut wanted: HashMap<SocketAddr, Vec<Arc<DtuSlot>>> = HashMap::new();
        for bus in buses.iter().filter(|b| b.transport == Transport::DtuServer) {
            let slot = DtuSlot::of(bus).map(|new| {
                // Keep the running slot (and its connection) when nothing about it changed.
                listeners
                    .get(&new.listen)
                    .and_then(|l| {
                        lock(&l.slots)
                            .iter()
                            .find(|s| same_dtu(s, &new, bus))
                            .cloned()
                    })
                    .unwrap_or_else(|| Arc::new(new))
            });
            if let Ok(s) = &slot {
                wanted.entry(s.listen).or_default().push(Arc::clone(s));
            }
            out.insert(bus.name.clone(), slot);
        }
        listeners.retain(|addr, l| {
            let keep = wanted.contains_key(addr);
            if !keep {
                l.task.abort();
            }
            keep
        });
        for (addr, slots) in wanted {
            if let Some(l) = listeners.get(&addr) {
                *lock(&l.slots) = slots;
                continue;
            }
            let slots = Arc::new(Mutex::new(slots));
            let task = tokio::spawn(listen(addr, Arc::clone(&slots)));
            listeners.insert(addr, Listener { slots, task });
        }
        out
    }
}

fn same_dtu(old: &DtuSlot, new: &DtuSlot, bus: &BusConfig) -> bool {
    let pattern = |p: &Option<Pattern>| match p {
        None => String::new(),
        Some(Pattern::Bytes(b)) => format!("hex:{b:?}"),
        Some(Pattern::Regex(r)) => format!("regex:{r}"),
    };
    let identity = |i: &Identity| match i {
        Identity::Exact(b) => format!("{b:?}"),
        Identity::Regex(r) => r.to_string(),
    };
    old.dtu_id == new.dtu_id
        && identity(&old.identity) == identity(&new.identity)
        && pattern(&old.heartbeat) == pattern(&new.heartbeat)
        && bus.listen == Some(old.listen)
}

async fn listen(addr: SocketAddr, slots: Arc<Mutex<Vec<Arc<DtuSlot>>>>) {
    let set_error = |e: Option<String>| {
        for s in lock(&slots).iter() {
            lock(&s.listen_error).clone_from(&e);
        }
    };
    let listener = loop {
        match TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(e) => {
                let why = format!("cannot listen for DTUs on {addr}: {e}");
                tracing::error!("{why}");
                set_error(Some(why));
                tokio::time::sleep(REBIND_DELAY).await;
            }
        }
    };
    set_error(None);
    tracing::info!(%addr, "listening for DTUs");
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let slots = lock(&slots).clone();
                tokio::spawn(register(stream, peer, addr, slots));
            }
            Err(e) => {
                tracing::warn!(%addr, error = %e, "accepting a DTU failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads the registration packet of a new connection and hands it to its DTU's slot.
async fn register(
    mut stream: TcpStream,
    peer: SocketAddr,
    listen: SocketAddr,
    slots: Vec<Arc<DtuSlot>>,
) {
    let mut packet = Vec::new();
    let identified = tokio::time::timeout(REGISTRATION_TIMEOUT, async {
        let mut buf = [0u8; 256];
        loop {
            // The first bytes may take a while; the rest of a packet follows at once, so a
            // quiet pause ends a packet that matched nothing.
            let read = stream.read(&mut buf);
            let n = if packet.is_empty() {
                read.await.ok()
            } else {
                tokio::time::timeout(REGISTRATION_QUIET, read)
                    .await
                    .ok()?
                    .ok()
            }
            .filter(|&n| n > 0)?;
            packet.extend_from_slice(&buf[..n]);
            let mut maybe = false;
            for slot in &slots {
                match slot.identify(&packet) {
                    Match::Yes(len) => return Some((Arc::clone(slot), len)),
                    Match::MaybeLater => maybe = true,
                    Match::No => {}
                }
            }
            if !maybe || packet.len() >= MAX_REGISTRATION {
                return None;
            }
        }
    })
    .await
    .ok()
    .flatten();
    let Some((slot, len)) = identified else {
        tracing::warn!(
            %listen, %peer,
            packet = %hex(&packet), text = %String::from_utf8_lossy(&packet),
            "a DTU connected with a registration packet no bus expects; closed"
        );
        return;
    };
    let registration = packet.get(..len).unwrap_or_default().to_vec();
    let rest = packet.get(len..).unwrap_or_default().to_vec();
    let filter = InboundFilter::new(slot.heartbeat.clone(), registration);
    let (tx, rx) = mpsc::channel(4);
    slot.install(tx, peer);
    pump::pump(stream, filter, rx, &rest, &slot.dtu_id).await;
    tracing::info!(dtu = %slot.dtu_id, %peer, "DTU connection closed");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Checks that the DTU patterns of `buses` compile (a config with a broken one is refused).
pub fn check_patterns(buses: &[BusConfig]) -> Result<(), String> {
    buses
        .iter()
        .filter(|b| b.transport == Transport::DtuServer)
        .try_for_each(|b| DtuSlot::of(b).map(|_| ()))
}
