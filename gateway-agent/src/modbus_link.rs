//! One Modbus link (a bus): connects the configured transport and runs single requests on it,
//! with the field rules of METERS.md.
//!
//! Rules kept: one request at a time (the link is `&mut`); every request has a timeout, since
//! tokio-modbus has none; a request that timed out or failed on the wire is retried up to
//! `retries` times on a *fresh* connection (a late reply would otherwise be taken for the answer
//! to the next request); an exception reply is an answer and is not retried; the configured
//! pause is kept between requests, and the longer `slave_switch_gap` when the slave id changes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use protocol::gateway_config::Parity;
use protocol::{BusConfig, Transport};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_modbus::client::{rtu, tcp, Client, Context};
use tokio_modbus::prelude::SlaveContext;
use tokio_modbus::{Request, Response, Slave};

use crate::dtu_server::DtuSlot;

/// The DTU slot of each `dtu-server` bus by name, from [`crate::dtu_server::DtuHub::configure`].
pub type DtuSlots = HashMap<String, Result<Arc<DtuSlot>, String>>;

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the meter answered with Modbus exception code {0}")]
    Exception(u8),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("transport error: {0}")]
    Io(String),
    #[error("the answer does not match the request: {0}")]
    Protocol(String),
}

impl LinkError {
    /// The `error` string of a reading that failed this way.
    pub fn reading_error(&self) -> protocol::ReadFailure {
        use protocol::ReadFailure;
        match self {
            Self::Timeout(_) => ReadFailure::Timeout,
            Self::Exception(code) => ReadFailure::Exception(*code),
            Self::Connect(_) => ReadFailure::Other("connect".into()),
            Self::Io(_) => ReadFailure::Other("io".into()),
            Self::Protocol(_) => ReadFailure::Decode,
        }
    }
}

/// Timing and retry settings of a link, from the bus config.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    pub timeout: Duration,
    pub retries: u32,
    pub request_gap: Duration,
    pub slave_switch_gap: Duration,
}

impl LinkSettings {
    pub fn of(bus: &BusConfig) -> Self {
        Self {
            timeout: bus.timeout().as_std(),
            retries: bus.retries(),
            request_gap: bus.request_gap().as_std(),
            slave_switch_gap: bus.slave_switch_gap().as_std(),
        }
    }
}

/// Where a link connects to.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Tcp(String),
    RtuOverTcp(String),
    Serial {
        device: String,
        baud: u32,
        parity: Parity,
    },
    /// RTU frames through the connection a DTU opened to us (`dtu-server`).
    Dtu(Arc<DtuSlot>),
    /// Cannot work (e.g. a DTU pattern that does not compile); every request fails with the
    /// reason.
    Unsupported(String),
}

impl Endpoint {
    /// The endpoint of `bus`; a `dtu-server` bus takes its slot from `dtu`.
    pub fn of(bus: &BusConfig, dtu: &DtuSlots) -> Self {
        let address = bus.address.clone().unwrap_or_default();
        match bus.transport {
            Transport::Tcp => Self::Tcp(address),
            Transport::RtuOverTcp => Self::RtuOverTcp(address),
            Transport::Rtu => Self::Serial {
                device: bus.device.clone().unwrap_or_default(),
                baud: bus.baud(),
                parity: bus.parity(),
            },
            Transport::DtuServer => match dtu.get(&bus.name) {
                Some(Ok(slot)) => Self::Dtu(Arc::clone(slot)),
                Some(Err(why)) => Self::Unsupported(why.clone()),
                None => Self::Unsupported(format!("bus {}: no DTU listener", bus.name)),
            },
        }
    }
}

pub struct ModbusLink {
    endpoint: Endpoint,
    settings: LinkSettings,
    ctx: Option<Context>,
    last_slave: Option<u8>,
    last_end: Option<Instant>,
}

impl std::fmt::Debug for ModbusLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModbusLink")
            .field("endpoint", &self.endpoint)
            .field("connected", &self.ctx.is_some())
            .finish_non_exhaustive()
    }
}

impl ModbusLink {
    pub fn new(endpoint: Endpoint, settings: LinkSettings) -> Self {
        Self {
            endpoint,
            settings,
            ctx: None,
            last_slave: None,
            last_end: None,
        }
    }

    pub fn for_bus(bus: &BusConfig, dtu: &DtuSlots) -> Self {
        Self::new(Endpoint::of(bus, dtu), LinkSettings::of(bus))
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn settings(&self) -> &LinkSettings {
        &self.settings
    }

    /// Runs one request against `slave`, with gaps, timeout and retries.
    pub async fn call(
        &mut self,
        slave: u8,
        request: Request<'static>,
    ) -> Result<Response, LinkError> {
        let mut attempt = 0;
        loop {
            let result = self.call_once(slave, request.clone()).await;
            match result {
                Err(LinkError::Timeout(_) | LinkError::Io(_) | LinkError::Protocol(_))
                    if attempt < self.settings.retries =>
                {
                    attempt += 1;
                    tracing::debug!(slave, attempt, error = ?result, "retrying on a fresh connection");
                }
                other => return other,
            }
        }
    }

    async fn call_once(
        &mut self,
        slave: u8,
        request: Request<'static>,
    ) -> Result<Response, LinkError> {
        if let Some(until) = self.gap_until(slave) {
            sleep_until(until).await;
        }
        let deadline = self.settings.timeout;
        let result = async {
            let ctx = self.connected().await?;
            ctx.set_slave(Slave(slave));
            match timeout(deadline, ctx.call(request)).await {
                Err(_) => Err(LinkError::Timeout(deadline)),
                Ok(Err(tokio_modbus::Error::Transport(e))) => Err(LinkError::Io(e.to_string())),
                Ok(Err(tokio_modbus::Error::Protocol(e))) => {
                    Err(LinkError::Protocol(e.to_string()))
                }
                Ok(Ok(Err(code))) => Err(LinkError::Exception(u8::from(code))),
                Ok(Ok(Ok(response))) => Ok(response),
            }
        }
        .await;
        self.last_slave = Some(slave);
        self.last_end = Some(Instant::now());
        if matches!(
            result,
            Err(LinkError::Timeout(_)
                | LinkError::Io(_)
                | LinkError::Protocol(_)
                | LinkError::Connect(_))
        ) {
            // A late reply must not be read as the answer to the next request.
            self.ctx = None;
        }
        result
    }

    fn gap_until(&self, slave: u8) -> Option<Instant> {
        let end = self.last_end?;
        let gap = if self.last_slave == Some(slave) {
            self.settings.request_gap
        } else {
            self.settings
                .request_gap
                .max(self.settings.slave_switch_gap)
        };
        (!gap.is_zero()).then(|| end + gap)
    }

    async fn connected(&mut self) -> Result<&mut Context, LinkError> {
        if self.ctx.is_none() {
            let ctx = timeout(self.settings.timeout, connect(&self.endpoint))
                .await
                .map_err(|_| {
                    LinkError::Connect(format!("no connection within {:?}", self.settings.timeout))
                })??;
            self.ctx = Some(ctx);
        }
        self.ctx
            .as_mut()
            .ok_or_else(|| LinkError::Connect("not connected".into()))
    }

    /// Closes the connection (the next request reconnects).
    pub async fn disconnect(&mut self) {
        if let Some(mut ctx) = self.ctx.take() {
            let _ = ctx.disconnect().await;
        }
    }
}

async fn resolve(address: &str) -> Result<SocketAddr, LinkError> {
    tokio::net::lookup_host(address)
        .await
        .map_err(|e| LinkError::Connect(format!("{address}: {e}")))?
        .next()
        .ok_or_else(|| LinkError::Connect(format!("{address}: no address")))
}

async fn connect(endpoint: &Endpoint) -> Result<Context, LinkError> {
    match endpoint {
        Endpoint::Tcp(address) => {
            let addr = resolve(address).await?;
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| LinkError::Connect(format!("{address}: {e}")))?;
            let _ = stream.set_nodelay(true);
            Ok(tcp::attach(stream))
        }
        Endpoint::RtuOverTcp(address) => {
            let addr = resolve(address).await?;
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| LinkError::Connect(format!("{address}: {e}")))?;
            let _ = stream.set_nodelay(true);
            Ok(rtu::attach(stream))
        }
        Endpoint::Serial {
            device,
            baud,
            parity,
        } => {
            let builder = tokio_serial::new(device, *baud)
                .data_bits(tokio_serial::DataBits::Eight)
                .stop_bits(tokio_serial::StopBits::One)
                .parity(match parity {
                    Parity::N => tokio_serial::Parity::None,
                    Parity::E => tokio_serial::Parity::Even,
                    Parity::O => tokio_serial::Parity::Odd,
                });
            let port = tokio_serial::SerialStream::open(&builder)
                .map_err(|e| LinkError::Connect(format!("{device}: {e}")))?;
            Ok(rtu::attach(port))
        }
        Endpoint::Dtu(slot) => Ok(rtu::attach(slot.attach()?)),
        Endpoint::Unsupported(why) => Err(LinkError::Connect(why.clone())),
    }
}
