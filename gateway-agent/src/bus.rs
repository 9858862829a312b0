//! One bus's task: polls its meters one at a time every poll interval and executes the
//! commands for them, serialised with the polling (a relay write never interleaves with a
//! read on the same bus).
//!
//! A poll cycle reads every meter in turn, taking any waiting command between two meters so a
//! trip does not wait for a whole cycle. Each meter yields a reading with values or with an
//! `error`, never a made-up value; the cycle's readings go to the disk queue in one push, and
//! the bus's health (all meters failed = down) goes to the shared status.

use std::sync::Arc;

use chrono::Utc;
use protocol::{
    AckStatus, Action, BusConfig, BusStatus, Command, CommandAck, MeterConfig, MeterId, Reading,
    ReadingOutcome, RegisterMap,
};
use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

use crate::command_log::{ack, Decision};
use crate::meter_read::{read_meter, read_relay, write_relay};
use crate::modbus_link::ModbusLink;
use crate::shared::Shared;

/// A meter as the bus polls it.
#[derive(Debug, Clone)]
pub struct BusMeter {
    pub id: MeterId,
    pub slave: u8,
    pub map: RegisterMap,
}

impl BusMeter {
    /// `None` for a meter without a usable map (validation refuses those).
    pub fn of(config: &MeterConfig) -> Option<Self> {
        Some(Self {
            id: config.id.clone(),
            slave: config.slave,
            map: config.register_map()?,
        })
    }
}

pub struct BusTask {
    pub config: BusConfig,
    pub meters: Vec<BusMeter>,
    pub link: ModbusLink,
    pub commands: mpsc::Receiver<Command>,
    pub shared: Arc<Shared>,
    pub stop: watch::Receiver<bool>,
}

impl BusTask {
    pub async fn run(mut self) {
        let mut ticker = tokio::time::interval(self.config.poll_interval().as_std());
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = self.stop.changed() => break,
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.execute(cmd).await,
                    None => break,
                },
                _ = ticker.tick() => self.poll_cycle().await,
            }
            if *self.stop.borrow() {
                break;
            }
        }
        self.link.disconnect().await;
    }

    async fn poll_cycle(&mut self) {
        let mut readings = Vec::with_capacity(self.meters.len());
        let (mut ok, mut failed) = (0u32, 0u32);
        for i in 0..self.meters.len() {
            while let Ok(cmd) = self.commands.try_recv() {
                self.execute(cmd).await;
            }
            if *self.stop.borrow() {
                return;
            }
            let meter = self.meters[i].clone();
            let reading = self.read(&meter).await;
            match reading.outcome {
                ReadingOutcome::Values(_) => ok += 1,
                ReadingOutcome::Error(_) => failed += 1,
            }
            readings.push(reading);
        }
        self.shared.enqueue(readings);
        self.shared.set_bus_status(BusStatus {
            name: self.config.name.clone(),
            // A bus where every meter fails is down; a bus without meters is not.
            ok: ok > 0 || failed == 0,
            meters_ok: ok,
            meters_failed: failed,
        });
    }

    async fn read(&mut self, meter: &BusMeter) -> Reading {
        let outcome = match read_meter(&mut self.link, meter.slave, &meter.map).await {
            Ok((values, _raw)) => ReadingOutcome::Values(values),
            Err(e) => {
                tracing::debug!(bus = %self.config.name, meter = %meter.id, error = %e, "meter read failed");
                ReadingOutcome::Error(e.reading_error())
            }
        };
        Reading {
            meter: meter.id.clone(),
            // The time the meter was read (the read just finished).
            ts: Utc::now(),
            outcome,
        }
    }

    async fn execute(&mut self, cmd: Command) {
        let Some(meter) = self.meters.iter().find(|m| m.id == cmd.meter).cloned() else {
            let a = ack(
                &cmd,
                AckStatus::Failed,
                None,
                Some(format!(
                    "meter {} is not on bus {}",
                    cmd.meter, self.config.name
                )),
                Utc::now(),
            );
            self.shared.send_ack(a);
            return;
        };
        let decision = self.shared.begin_command(&cmd, Utc::now());
        let decision = match decision {
            Ok(d) => d,
            Err(e) => {
                // Without the seq on disk we cannot promise at-most-once: do not execute.
                tracing::error!(error = %e, "command log unavailable; command not executed");
                return;
            }
        };
        match decision {
            Decision::Answer(a) => self.shared.send_ack(a),
            Decision::Execute => {
                let a = self.run_action(&meter, &cmd).await;
                if let Err(e) = self.shared.finish_command(&cmd, &a) {
                    tracing::error!(error = %e, "could not record a command's ack");
                }
                self.shared.send_ack(a);
            }
        }
    }

    async fn run_action(&mut self, meter: &BusMeter, cmd: &Command) -> CommandAck {
        let done =
            |status, relay, detail: Option<String>| ack(cmd, status, relay, detail, Utc::now());
        match cmd.action {
            Action::Trip | Action::Close => {
                let Some(expected) = cmd.action.expected_relay() else {
                    return done(AckStatus::Unsupported, None, None);
                };
                let Some(write) = meter.map.relay.as_ref().and_then(|r| r.write.as_ref()) else {
                    return done(
                        AckStatus::Unsupported,
                        None,
                        Some("the meter's map has no relay write".into()),
                    );
                };
                if let Err(e) = write_relay(&mut self.link, meter.slave, write, expected).await {
                    return done(AckStatus::Failed, None, Some(format!("relay write: {e}")));
                }
                match read_relay(&mut self.link, meter.slave, &meter.map).await {
                    Ok(None) => done(AckStatus::Executed, None, None),
                    Ok(Some(state)) if state == expected => {
                        done(AckStatus::Executed, Some(state), None)
                    }
                    Ok(Some(state)) => done(
                        AckStatus::Failed,
                        Some(state),
                        Some(format!("relay read back {state:?} after the write")),
                    ),
                    Err(e) => done(
                        AckStatus::Failed,
                        None,
                        Some(format!("relay read-back: {e}")),
                    ),
                }
            }
            Action::ReadNow => {
                let reading = self.read(meter).await;
                let result = match &reading.outcome {
                    ReadingOutcome::Values(v) => done(AckStatus::Executed, v.relay, None),
                    ReadingOutcome::Error(e) => {
                        done(AckStatus::Failed, None, Some(format!("read: {e}")))
                    }
                };
                self.shared.enqueue(vec![reading]);
                result
            }
            Action::AlarmOn | Action::AlarmOff | Action::SyncTime | Action::SetParams => done(
                AckStatus::Unsupported,
                None,
                Some("register maps have no alarm, clock or parameter registers".into()),
            ),
        }
    }
}
