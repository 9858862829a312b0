//! A Modbus TCP meter simulator: any number of meters behind one address, each with its own
//! register map, energy growing with a load while its relay is closed, relay writes that work,
//! and the faults of the field on demand (reply delay, dropped replies, silent meters).
//!
//! The demo and the end-to-end tests run it in-process with [`Simulator::start`]; technicians
//! run it as `wattpay-agent simulate`. A request to a slave id nobody simulates gets no reply,
//! as on an RS485 bus. With a `state_file` the energy and relay of every meter are saved on
//! every relay change, every few seconds and on shutdown, and loaded on start, so a restarted
//! simulator continues where it stopped.

pub mod meter;

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use protocol::register_map::{
    RegisterFunction, RegisterSpec, RelayMap, RelayRead, RelayWrite, RelayWriteValue, ValueType,
};
use protocol::{MeterModel, RegisterMap, RelayState};
use rust_decimal::Decimal;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_modbus::server::tcp::Server;
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

use crate::durable_file;
use meter::SimMeter;
pub use meter::{SavedMeter, SimMeterConfig};

/// How often the state file is refreshed while energy grows.
const SAVE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Port 0 picks a free port; [`SimulatorHandle::addr`] tells which.
    pub listen: SocketAddr,
    pub meters: Vec<SimMeterConfig>,
    pub reply_delay: Duration,
    /// Leave every n-th request unanswered.
    pub drop_every: Option<NonZeroU32>,
    /// Energy runs this many times faster than the clock (a demo shows a day in minutes).
    pub time_scale: Decimal,
    pub state_file: Option<PathBuf>,
}

impl SimulatorConfig {
    /// `acrel` Acrel-preset meters on slaves 1.., then `explicit` meters with
    /// [`explicit_map`], all drawing `load_kw` with their relay closed.
    pub fn with_meters(listen: SocketAddr, acrel: u8, explicit: u8, load_kw: Decimal) -> Self {
        let meters = (1..=acrel.saturating_add(explicit))
            .map(|slave| SimMeterConfig {
                slave,
                map: if slave <= acrel {
                    MeterModel::AcrelDdsy1352.register_map()
                } else {
                    explicit_map()
                },
                load_kw,
                energy_kwh: Decimal::ZERO,
                relay: RelayState::Closed,
            })
            .collect();
        Self {
            listen,
            meters,
            reply_delay: Duration::ZERO,
            drop_every: None,
            time_scale: Decimal::ONE,
            state_file: None,
        }
    }
}

/// The explicit map of ARCHITECTURE.md's example: u32 × 0.01 kWh in holding 0, f32 voltage,
/// current and power in input registers 0, 2 and 4, relay as coil 0 with read-back.
pub fn explicit_map() -> RegisterMap {
    let f32_input = |address| {
        Some(RegisterSpec {
            function: RegisterFunction::Input,
            address,
            value_type: ValueType::F32,
            word_order: None,
            scale: None,
        })
    };
    RegisterMap {
        energy_kwh: Some(RegisterSpec {
            function: RegisterFunction::Holding,
            address: 0,
            value_type: ValueType::U32,
            word_order: None,
            scale: Some(Decimal::new(1, 2)),
        }),
        voltage_v: f32_input(0),
        current_a: f32_input(2),
        power_kw: f32_input(4),
        relay: Some(RelayMap {
            read: Some(RelayRead {
                function: RegisterFunction::Coil,
                address: 0,
                open: 0,
                closed: 1,
            }),
            write: Some(RelayWrite {
                function: RegisterFunction::Coil,
                address: 0,
                open: RelayWriteValue::Single(0),
                closed: RelayWriteValue::Single(1),
            }),
        }),
        ..RegisterMap::default()
    }
}

#[derive(Debug)]
struct SimState {
    meters: BTreeMap<u8, SimMeter>,
    reply_delay: Duration,
    drop_every: Option<NonZeroU32>,
    time_scale: Decimal,
    requests: u64,
    state_file: Option<PathBuf>,
}

impl SimState {
    fn save(&mut self) {
        let Some(path) = self.state_file.clone() else {
            return;
        };
        let now = Instant::now();
        let scale = self.time_scale;
        let saved: BTreeMap<u8, SavedMeter> = self
            .meters
            .iter_mut()
            .map(|(slave, m)| (*slave, m.saved(now, scale)))
            .collect();
        let result = serde_json::to_vec_pretty(&saved)
            .map_err(io::Error::other)
            .and_then(|bytes| durable_file::write(&path, &bytes));
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "could not save simulator state");
        }
    }

    /// Answers one request: `None` leaves it unanswered.
    fn answer(&mut self, req: &SlaveRequest<'_>) -> Option<Result<Response, ExceptionCode>> {
        self.requests += 1;
        if let Some(n) = self.drop_every {
            if self.requests % u64::from(n.get()) == 0 {
                return None;
            }
        }
        let now = Instant::now();
        let scale = self.time_scale;
        let meter = self.meters.get_mut(&req.slave)?;
        if meter.silent {
            return None;
        }
        let words = |r: Result<Vec<u16>, ExceptionCode>| r;
        let result = match &req.request {
            Request::ReadHoldingRegisters(a, n) => {
                words(meter.read(RegisterFunction::Holding, *a, *n, now, scale))
                    .map(Response::ReadHoldingRegisters)
            }
            Request::ReadInputRegisters(a, n) => {
                words(meter.read(RegisterFunction::Input, *a, *n, now, scale))
                    .map(Response::ReadInputRegisters)
            }
            Request::ReadCoils(a, n) => meter
                .read(RegisterFunction::Coil, *a, *n, now, scale)
                .map(|w| Response::ReadCoils(w.into_iter().map(|b| b != 0).collect())),
            Request::ReadDiscreteInputs(a, n) => meter
                .read(RegisterFunction::Discrete, *a, *n, now, scale)
                .map(|w| Response::ReadDiscreteInputs(w.into_iter().map(|b| b != 0).collect())),
            Request::WriteSingleCoil(a, v) => meter
                .write(
                    RegisterFunction::Coil,
                    *a,
                    &[u16::from(*v)],
                    true,
                    now,
                    scale,
                )
                .map(|()| Response::WriteSingleCoil(*a, *v)),
            Request::WriteSingleRegister(a, v) => meter
                .write(RegisterFunction::Holding, *a, &[*v], true, now, scale)
                .map(|()| Response::WriteSingleRegister(*a, *v)),
            Request::WriteMultipleRegisters(a, ws) => {
                let n = u16::try_from(ws.len()).unwrap_or(u16::MAX);
                meter
                    .write(RegisterFunction::Holding, *a, ws, false, now, scale)
                    .map(|()| Response::WriteMultipleRegisters(*a, n))
            }
            _ => Err(ExceptionCode::IllegalFunction),
        };
        if matches!(
            req.request,
            Request::WriteSingleCoil(..)
                | Request::WriteSingleRegister(..)
                | Request::WriteMultipleRegisters(..)
        ) && result.is_ok()
        {
            self.save();
        }
        Some(result)
    }
}

#[derive(Clone)]
struct SimService {
    state: Arc<Mutex<SimState>>,
    writes: watch::Sender<u64>,
}

type Answer = Result<Option<Response>, ExceptionCode>;

impl tokio_modbus::server::Service for SimService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = Pin<Box<dyn Future<Output = Answer> + Send>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        let (answer, delay) = {
            let mut state = lock(&self.state);
            let answer = state.answer(&req);
            (answer, state.reply_delay)
        };
        if matches!(
            answer,
            Some(Ok(Response::WriteSingleCoil(..)
                | Response::WriteSingleRegister(..)
                | Response::WriteMultipleRegisters(..)))
        ) {
            self.writes.send_modify(|n| *n += 1);
        }
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            match answer {
                None => Ok(None),
                Some(Ok(r)) => Ok(Some(r)),
                Some(Err(code)) => Err(code),
            }
        })
    }
}

fn lock(state: &Mutex<SimState>) -> MutexGuard<'_, SimState> {
    // A panic while holding the lock leaves plain numbers behind, still usable.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub struct Simulator;

impl Simulator {
    /// Binds the listen address and serves until the handle is shut down or dropped.
    pub async fn start(config: SimulatorConfig) -> io::Result<SimulatorHandle> {
        let now = Instant::now();
        let mut meters: BTreeMap<u8, SimMeter> = config
            .meters
            .iter()
            .map(|m| (m.slave, SimMeter::new(m, now)))
            .collect();
        if let Some(path) = &config.state_file {
            if let Some(bytes) = durable_file::read(path)? {
                let saved: BTreeMap<u8, SavedMeter> =
                    serde_json::from_slice(&bytes).map_err(io::Error::other)?;
                for (slave, s) in saved {
                    if let Some(m) = meters.get_mut(&slave) {
                        m.restore(&s, now);
                    }
                }
            }
        }
        let state = Arc::new(Mutex::new(SimState {
            meters,
            reply_delay: config.reply_delay,
            drop_every: config.drop_every,
            time_scale: config.time_scale,
            requests: 0,
            state_file: config.state_file.clone(),
        }));
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let (writes, writes_rx) = watch::channel(0);
        let service = SimService {
            state: Arc::clone(&state),
            writes,
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let saver_state = Arc::clone(&state);
        let task = tokio::spawn(async move {
            let server = Server::new(listener);
            let on_connected = move |stream, _addr| {
                let service = service.clone();
                async move { Ok(Some((service, stream))) }
            };
            let saver = async move {
                let mut tick = tokio::time::interval(SAVE_EVERY);
                loop {
                    tick.tick().await;
                    lock(&saver_state).save();
                }
            };
            tokio::select! {
                r = server.serve(&on_connected, |e| tracing::debug!(error = %e, "simulator connection ended")) => {
                    if let Err(e) = r {
                        tracing::error!(error = %e, "simulator stopped");
                    }
                }
                () = saver => {}
                _ = stop_rx => {}
            }
        });
        Ok(SimulatorHandle {
            addr,
            state,
            writes: writes_rx,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// A running simulator. Dropping it stops the server (after saving the state file).
pub struct SimulatorHandle {
    addr: SocketAddr,
    state: Arc<Mutex<SimState>>,
    writes: watch::Receiver<u64>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimulatorHandle {
    /// The bound address (with the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn relay(&self, slave: u8) -> Option<RelayState> {
        lock(&self.state).meters.get(&slave).map(|m| m.relay)
    }

    pub fn energy_kwh(&self, slave: u8) -> Option<Decimal> {
        let mut state = lock(&self.state);
        let scale = state.time_scale;
        state
            .meters
            .get_mut(&slave)
            .map(|m| m.energy(Instant::now(), scale))
    }

    /// Relay writes the meter accepted since start.
    pub fn relay_writes(&self, slave: u8) -> u64 {
        lock(&self.state)
            .meters
            .get(&slave)
            .map_or(0, |m| m.relay_writes)
    }

    /// Requests received since start (answered or not).
    pub fn requests(&self) -> u64 {
        lock(&self.state).requests
    }

    /// Changes whenever any relay write is accepted: wait on it instead of sleeping.
    pub fn watch_relay_writes(&self) -> watch::Receiver<u64> {
        self.writes.clone()
    }

    /// A silent meter never answers (dead meter, swapped A/B wires).
    pub fn set_silent(&self, slave: u8, silent: bool) {
        if let Some(m) = lock(&self.state).meters.get_mut(&slave) {
            m.silent = silent;
        }
    }

    pub fn set_reply_delay(&self, delay: Duration) {
        lock(&self.state).reply_delay = delay;
    }

    pub fn set_drop_every(&self, every: Option<NonZeroU32>) {
        lock(&self.state).drop_every = every;
    }

    pub fn set_load_kw(&self, slave: u8, load_kw: Decimal) {
        let mut state = lock(&self.state);
        let scale = state.time_scale;
        if let Some(m) = state.meters.get_mut(&slave) {
            m.set_load(load_kw, Instant::now(), scale);
        }
    }

    /// Stops serving and saves the state file.
    pub async fn shutdown(mut self) {
        self.stop_now();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        lock(&self.state).save();
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        self.stop_now();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
