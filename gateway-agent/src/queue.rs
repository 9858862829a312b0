//! The store-and-forward queue: every reading batch is on disk before it is published, and
//! leaves the disk only after the broker acknowledged it (PUBACK).
//!
//! One file per batch in `data_dir/queue/`, named by its zero-padded batch number and holding
//! the exact `ReadingBatch` JSON to publish, written atomically ([`crate::durable_file`]). So a
//! SIGKILL at any point loses nothing written and tears nothing. Batch numbers follow the
//! contract: each new one is `max(last + 1, now in Unix ms)`, and the last one handed out is
//! persisted in `data_dir/last_batch` *before* its file is written, so numbers keep rising
//! across restarts even on a box whose clock boots in 1970. The queue is bounded in readings;
//! past the bound the oldest batches are deleted and counted in `dropped`, which the status
//! reports.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use protocol::{GatewayId, Reading, ReadingBatch, V1};

use crate::durable_file;

/// Readings per batch: keeps every payload well below the contract's 256 KiB limit (a reading
/// is under 1 KiB even with 64-character ids and every value present).
pub const MAX_READINGS_PER_BATCH: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue storage {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("could not encode a reading batch: {0}")]
    Encode(#[from] protocol::EncodeError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> QueueError + '_ {
    move |source| QueueError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The on-disk queue of one gateway. Not thread-safe by itself; the agent wraps it in a mutex.
#[derive(Debug)]
pub struct ReadingQueue {
    dir: PathBuf,
    counter_path: PathBuf,
    gateway: GatewayId,
    /// Batch number → readings in it, oldest first.
    entries: BTreeMap<u64, u64>,
    readings: u64,
    max_readings: u64,
    dropped: u64,
    last_batch: u64,
}

impl ReadingQueue {
    /// Opens (or creates) the queue under `data_dir`, counting what an earlier run left.
    pub fn open(
        data_dir: &Path,
        gateway: GatewayId,
        max_readings: u64,
    ) -> Result<Self, QueueError> {
        let dir = data_dir.join("queue");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let counter_path = data_dir.join("last_batch");
        let mut last_batch = durable_file::read(&counter_path)
            .map_err(io_err(&counter_path))?
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let mut entries = BTreeMap::new();
        let mut readings = 0;
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let path = entry.map_err(io_err(&dir))?.path();
            let Some(batch) = batch_of(&path) else {
                continue;
            };
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            match protocol::decode_reading_batch(&bytes) {
                Ok(b) => {
                    let n = b.readings.len() as u64;
                    entries.insert(batch, n);
                    readings += n;
                    last_batch = last_batch.max(batch);
                }
                Err(e) => {
                    // Cannot happen with atomic writes; keep the file for a human, out of the way.
                    tracing::error!(path = %path.display(), error = %e, "unreadable queued batch set aside");
                    let aside = path.with_extension("corrupt");
                    fs::rename(&path, &aside).map_err(io_err(&path))?;
                }
            }
        }
        Ok(Self {
            dir,
            counter_path,
            gateway,
            entries,
            readings,
            max_readings: max_readings.max(1),
            dropped: 0,
            last_batch,
        })
    }

    /// Puts readings on disk as one or more batches; returns their batch numbers. Drops the
    /// oldest batches when the bound is passed.
    pub fn push(
        &mut self,
        readings: Vec<Reading>,
        now: DateTime<Utc>,
    ) -> Result<Vec<u64>, QueueError> {
        let mut numbers = Vec::new();
        let mut rest = readings;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(MAX_READINGS_PER_BATCH));
            let chunk = std::mem::replace(&mut rest, tail);
            let batch = self.next_batch_number(now)?;
            let count = chunk.len() as u64;
            let payload = protocol::encode(&ReadingBatch {
                v: V1,
                gateway: self.gateway.clone(),
                batch,
                readings: chunk,
            })?;
            let path = self.path_of(batch);
            durable_file::write(&path, &payload).map_err(io_err(&path))?;
            self.entries.insert(batch, count);
            self.readings += count;
            numbers.push(batch);
        }
        self.enforce_bound()?;
        Ok(numbers)
    }

    /// Hands out the next batch number and persists it before anyone uses it.
    fn next_batch_number(&mut self, now: DateTime<Utc>) -> Result<u64, QueueError> {
        let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        let batch = (self.last_batch + 1).max(now_ms);
        durable_file::write(&self.counter_path, batch.to_string().as_bytes())
            .map_err(io_err(&self.counter_path))?;
        self.last_batch = batch;
        Ok(batch)
    }

    fn enforce_bound(&mut self) -> Result<(), QueueError> {
        while self.readings > self.max_readings {
            let Some((&oldest, &n)) = self.entries.iter().next() else {
                break;
            };
            let path = self.path_of(oldest);
            durable_file::remove(&path).map_err(io_err(&path))?;
            self.entries.remove(&oldest);
            self.readings -= n;
            self.dropped += n;
            tracing::warn!(
                batch = oldest,
                readings = n,
                "queue full: oldest batch dropped"
            );
        }
        Ok(())
    }

    /// The payload of a queued batch, `None` when it is no longer queued.
    pub fn payload(&self, batch: u64) -> Result<Option<Vec<u8>>, QueueError> {
        if !self.entries.contains_key(&batch) {
            return Ok(None);
        }
        let path = self.path_of(batch);
        durable_file::read(&path).map_err(io_err(&path))
    }

    /// Deletes a batch the broker acknowledged; a batch already gone is fine.
    pub fn remove(&mut self, batch: u64) -> Result<(), QueueError> {
        if let Some(n) = self.entries.remove(&batch) {
            self.readings -= n;
            let path = self.path_of(batch);
            durable_file::remove(&path).map_err(io_err(&path))?;
        }
        Ok(())
    }

    /// Queued batch numbers, oldest first.
    pub fn batches(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries.keys().copied()
    }

    /// Readings waiting on disk.
    pub fn len(&self) -> u64 {
        self.readings
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Readings dropped since this queue was opened because it was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn path_of(&self, batch: u64) -> PathBuf {
        self.dir.join(format!("{batch:020}.json"))
    }
}

fn batch_of(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".json")?;
    if stem.len() != 20 {
        return None;
    }
    stem.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use protocol::{MeterId, ReadFailure, ReadingOutcome};

    fn reading(i: u32) -> Reading {
        Reading {
            meter: MeterId::parse("m-1").unwrap(),
            ts: DateTime::from_timestamp(1_800_000_000 + i64::from(i), 0).unwrap(),
            outcome: ReadingOutcome::Error(ReadFailure::Timeout),
        }
    }

    fn gw() -> GatewayId {
        GatewayId::parse("gw-0001").unwrap()
    }

    #[test]
    fn survives_reopen_and_numbers_keep_rising_with_a_1970_clock() {
        let dir = tempfile::tempdir().unwrap();
        let epoch = DateTime::from_timestamp(0, 0).unwrap();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut q = ReadingQueue::open(dir.path(), gw(), 1000).unwrap();
        let first = q.push(vec![reading(1), reading(2)], now).unwrap();
        assert_eq!(first, [1_800_000_000_000]);
        let second = q.push(vec![reading(3)], now).unwrap();
        assert_eq!(second, [1_800_000_000_001]);
        q.remove(first[0]).unwrap();
        q.remove(second[0]).unwrap();
        drop(q);
        // A reboot into 1970 with an empty queue still continues above the last number.
        let mut q = ReadingQueue::open(dir.path(), gw(), 1000).unwrap();
        assert!(q.is_empty());
        let third = q.push(vec![reading(4)], epoch).unwrap();
        assert_eq!(third, [1_800_000_000_002]);
        drop(q);
        let q = ReadingQueue::open(dir.path(), gw(), 1000).unwrap();
        assert_eq!(q.batches().collect::<Vec<_>>(), third);
        assert_eq!(q.len(), 1);
        let payload = q.payload(third[0]).unwrap().unwrap();
        let batch = protocol::decode_reading_batch(&payload).unwrap();
        assert_eq!(batch.batch, third[0]);
        assert_eq!(batch.readings, vec![reading(4)]);
    }

    #[test]
    fn splits_large_pushes_and_drops_the_oldest_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut q = ReadingQueue::open(dir.path(), gw(), 450).unwrap();
        let numbers = q.push((0..450).map(reading).collect(), now).unwrap();
        assert_eq!(numbers.len(), 3);
        assert_eq!(q.len(), 450);
        assert_eq!(q.dropped(), 0);
        q.push(vec![reading(999)], now).unwrap();
        // The oldest batch (200 readings) went, and the drop is counted.
        assert_eq!(q.dropped(), 200);
        assert_eq!(q.len(), 251);
        assert_eq!(q.batches().next(), Some(numbers[1]));
        assert_eq!(q.payload(numbers[0]).unwrap(), None);
    }
}
