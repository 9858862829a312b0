//! The per-meter command memory on disk: which `seq` was used last and what it was answered.
//!
//! The contract's rules, in the order it gives them: the same command again (same `id` and
//! `seq`) gets the stored ack unchanged; any other command whose seq is not above the last is
//! `duplicate`; then an expired command is acked `expired`. A seq is recorded as *started* on
//! disk before the meter is touched and its ack is recorded after, so a SIGKILL in between can
//! never lead to a second execution: after a restart that command's resend is answered `failed`
//! ("outcome unknown") and the cloud decides with the next seq. One file per meter,
//! `data_dir/commands/{meter}.json`, written atomically.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use protocol::{AckStatus, Command, CommandAck, CommandId, MeterId, RelayState, V1};
use serde::{Deserialize, Serialize};

use crate::durable_file;

#[derive(Debug, thiserror::Error)]
#[error("command log {path}: {source}")]
pub struct CommandLogError {
    path: PathBuf,
    source: io::Error,
}

/// What to do with an incoming command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The seq is new and now recorded as started: run it, then [`CommandLog::finish`].
    Execute,
    /// Publish this ack and do not touch the meter.
    Answer(CommandAck),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct MeterRecord {
    seq: u64,
    id: CommandId,
    /// `None` while executing; still `None` after a restart means the outcome is unknown.
    ack: Option<CommandAck>,
}

#[derive(Debug)]
pub struct CommandLog {
    dir: PathBuf,
    records: HashMap<MeterId, MeterRecord>,
}

/// Builds an ack for `cmd`.
pub fn ack(
    cmd: &Command,
    status: AckStatus,
    relay: Option<RelayState>,
    detail: Option<String>,
    now: DateTime<Utc>,
) -> CommandAck {
    CommandAck {
        v: V1,
        id: cmd.id.clone(),
        meter: cmd.meter.clone(),
        seq: cmd.seq,
        status,
        relay,
        detail,
        ts: now,
    }
}

impl CommandLog {
    pub fn open(data_dir: &Path) -> Result<Self, CommandLogError> {
        let dir = data_dir.join("commands");
        let err = |source| CommandLogError {
            path: dir.clone(),
            source,
        };
        fs::create_dir_all(&dir).map_err(err)?;
        let mut records = HashMap::new();
        for entry in fs::read_dir(&dir).map_err(err)? {
            let path = entry.map_err(err)?.path();
            let Some(meter) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| MeterId::parse(n).ok())
            else {
                continue;
            };
            let bytes = fs::read(&path).map_err(|source| CommandLogError {
                path: path.clone(),
                source,
            })?;
            match serde_json::from_slice::<MeterRecord>(&bytes) {
                Ok(rec) => {
                    records.insert(meter, rec);
                }
                Err(e) => {
                    // Written atomically, so this is tampering or disk damage: refuse to guess
                    // a seq (that could re-execute one) and stop.
                    return Err(CommandLogError {
                        path,
                        source: io::Error::new(io::ErrorKind::InvalidData, e),
                    });
                }
            }
        }
        Ok(Self { dir, records })
    }

    /// The last seq used for `meter`.
    pub fn last_seq(&self, meter: &MeterId) -> Option<u64> {
        self.records.get(meter).map(|r| r.seq)
    }

    /// Applies the seq and expiry rules (see the module docs).
    pub fn begin(
        &mut self,
        cmd: &Command,
        now: DateTime<Utc>,
    ) -> Result<Decision, CommandLogError> {
        if let Some(rec) = self.records.get(&cmd.meter) {
            if cmd.seq == rec.seq && cmd.id == rec.id {
                if let Some(a) = &rec.ack {
                    return Ok(Decision::Answer(a.clone()));
                }
                let a = ack(
                    cmd,
                    AckStatus::Failed,
                    None,
                    Some("agent restarted while executing; outcome unknown".into()),
                    now,
                );
                self.store(cmd, Some(a.clone()))?;
                return Ok(Decision::Answer(a));
            }
            if cmd.seq <= rec.seq {
                let detail = format!("seq {} is not above the last seq {}", cmd.seq, rec.seq);
                return Ok(Decision::Answer(ack(
                    cmd,
                    AckStatus::Duplicate,
                    None,
                    Some(detail),
                    now,
                )));
            }
        }
        if cmd.is_expired(now) {
            let a = ack(cmd, AckStatus::Expired, None, None, now);
            self.store(cmd, Some(a.clone()))?;
            return Ok(Decision::Answer(a));
        }
        self.store(cmd, None)?;
        Ok(Decision::Execute)
    }

    /// Records the ack of a command [`Decision::Execute`] let through.
    pub fn finish(&mut self, cmd: &Command, ack: &CommandAck) -> Result<(), CommandLogError> {
        self.store(cmd, Some(ack.clone()))
    }

    fn store(&mut self, cmd: &Command, ack: Option<CommandAck>) -> Result<(), CommandLogError> {
        let rec = MeterRecord {
            seq: cmd.seq,
            id: cmd.id.clone(),
            ack,
        };
        let path = self.dir.join(format!("{}.json", cmd.meter));
        let bytes = serde_json::to_vec(&rec).map_err(|e| CommandLogError {
            path: path.clone(),
            source: io::Error::new(io::ErrorKind::InvalidData, e),
        })?;
        durable_file::write(&path, &bytes).map_err(|source| CommandLogError {
            path: path.clone(),
            source,
        })?;
        self.records.insert(cmd.meter.clone(), rec);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use protocol::Action;

    fn cmd(id: &str, seq: u64) -> Command {
        Command {
            v: V1,
            id: CommandId::parse(id).unwrap(),
            meter: MeterId::parse("m-101").unwrap(),
            seq,
            action: Action::Trip,
            issued_at: "2026-11-21T08:00:00Z".parse().unwrap(),
            expires_at: "2026-11-21T08:10:00Z".parse().unwrap(),
            params: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn seq_rules_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let now = at("2026-11-21T08:01:00Z");
        let mut log = CommandLog::open(dir.path()).unwrap();
        assert_eq!(log.begin(&cmd("a", 5), now).unwrap(), Decision::Execute);
        let done = ack(
            &cmd("a", 5),
            AckStatus::Executed,
            Some(RelayState::Open),
            None,
            now,
        );
        log.finish(&cmd("a", 5), &done).unwrap();
        drop(log);

        let mut log = CommandLog::open(dir.path()).unwrap();
        let later = at("2026-11-21T08:02:00Z");
        // The resend gets the stored ack unchanged (its original ts too).
        assert_eq!(
            log.begin(&cmd("a", 5), later).unwrap(),
            Decision::Answer(done)
        );
        for (id, seq) in [("b", 5), ("c", 4)] {
            let Decision::Answer(a) = log.begin(&cmd(id, seq), later).unwrap() else {
                panic!("{id} must not execute");
            };
            assert_eq!(a.status, AckStatus::Duplicate);
        }
        assert_eq!(log.begin(&cmd("d", 6), later).unwrap(), Decision::Execute);
    }

    #[test]
    fn a_kill_mid_execution_never_executes_again() {
        let dir = tempfile::tempdir().unwrap();
        let now = at("2026-11-21T08:01:00Z");
        let mut log = CommandLog::open(dir.path()).unwrap();
        assert_eq!(log.begin(&cmd("a", 1), now).unwrap(), Decision::Execute);
        drop(log); // killed before finish
        let mut log = CommandLog::open(dir.path()).unwrap();
        let Decision::Answer(a) = log.begin(&cmd("a", 1), now).unwrap() else {
            panic!("must not execute twice");
        };
        assert_eq!(a.status, AckStatus::Failed);
        let Decision::Answer(again) = log.begin(&cmd("a", 1), now).unwrap() else {
            panic!("must not execute twice");
        };
        assert_eq!(again, a);
    }

    #[test]
    fn seq_is_checked_before_expiry_and_expired_uses_the_seq() {
        let dir = tempfile::tempdir().unwrap();
        let late = at("2026-11-21T09:00:00Z");
        let mut log = CommandLog::open(dir.path()).unwrap();
        let Decision::Answer(a) = log.begin(&cmd("a", 3), late).unwrap() else {
            panic!("expired must not execute");
        };
        assert_eq!(a.status, AckStatus::Expired);
        assert_eq!(log.last_seq(&cmd("a", 3).meter), Some(3));
        let Decision::Answer(d) = log.begin(&cmd("b", 2), late).unwrap() else {
            panic!()
        };
        assert_eq!(d.status, AckStatus::Duplicate);
    }
}
