//! Ingestion: uplink messages in, readings stored. A batch is validated (known gateway, known
//! meters of that gateway; the topic's gateway is the payload's), its readings are stored in
//! multi-row statements that skip what is already stored (meter + timestamp is unique), and
//! the meters are handed to rating. Unknown meters and malformed payloads are counted and
//! logged, never charged, and never stop the worker.

use chrono::{DateTime, Utc};
use domain::Energy;
use protocol::{ReadingBatch, ReadingOutcome, RelayState, Topic, TopicKind};
use rust_decimal::Decimal;
use store::reading::NewReading;

use crate::context::GatewayEntry;
use crate::{Metrics, Worker};

/// What happened to a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Readings stored now.
    pub stored: u64,
    /// Readings already stored (a redelivery).
    pub duplicates: u64,
    /// Readings of meters the gateway does not have.
    pub unknown_meters: u64,
    /// Whether the gateway itself is unknown (nothing stored).
    pub unknown_gateway: bool,
}

/// Why an uplink message was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("topic: {0}")]
    Topic(String),
    #[error("payload: {0}")]
    Payload(#[from] protocol::DecodeError),
    #[error("gateway {payload} published on the topic of {topic}")]
    GatewayMismatch { topic: String, payload: String },
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl IngestError {
    /// Whether retrying the same message could succeed (a database hiccup), as opposed to a
    /// message that will never be valid.
    pub fn is_transient(&self) -> bool {
        matches!(self, IngestError::Store(_))
    }
}

fn wh(kwh: Decimal) -> Option<i64> {
    Energy::new(kwh).to_wh().ok()
}

fn relay_name(relay: RelayState) -> &'static str {
    match relay {
        RelayState::Open => "open",
        RelayState::Closed => "closed",
    }
}

impl Worker {
    /// Handles one uplink message by its topic. Invalid messages are counted and answered
    /// with an error the caller logs; the caller acknowledges them anyway (they will never
    /// become valid), except transient errors.
    pub async fn handle_uplink(
        &self,
        topic: &str,
        payload: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), IngestError> {
        let res = self.dispatch_uplink(topic, payload, now).await;
        if let Err(
            IngestError::Payload(_) | IngestError::GatewayMismatch { .. } | IngestError::Topic(_),
        ) = &res
        {
            Metrics::add(&self.metrics().malformed, 1);
        }
        res
    }

    async fn dispatch_uplink(
        &self,
        topic: &str,
        payload: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), IngestError> {
        let topic = Topic::parse(topic).map_err(|e| IngestError::Topic(e.to_string()))?;
        match topic.kind {
            TopicKind::Readings => {
                let batch = protocol::decode_reading_batch(payload)?;
                check_gateway(&topic, batch.gateway.as_str())?;
                self.ingest_batch(&batch, now).await.map(|_| ())
            }
            TopicKind::Acks => {
                let ack = protocol::decode_command_ack(payload)?;
                self.handle_ack(topic.gateway.as_str(), &ack, now)
                    .await
                    .map_err(IngestError::from)
            }
            TopicKind::Status => {
                let status = protocol::decode_gateway_status(payload)?;
                check_gateway(&topic, status.gateway.as_str())?;
                self.handle_status(&status, now)
                    .await
                    .map_err(IngestError::from)
            }
            TopicKind::Commands | TopicKind::Config => Ok(()),
        }
    }

    /// Handles several uplink messages at once (an ingestion flush): the reading batches among
    /// them are decoded and stored together in multi-row statements, acks and statuses one by
    /// one. Answers one result per message, in order.
    pub async fn handle_uplinks(
        &self,
        messages: &[(&str, &[u8])],
        now: DateTime<Utc>,
    ) -> Vec<Result<(), IngestError>> {
        let t = std::time::Instant::now();
        let mut results: Vec<Option<Result<(), IngestError>>> =
            messages.iter().map(|_| None).collect();
        let mut batches = Vec::new();
        let mut batch_of = Vec::new();
        for (i, (topic, payload)) in messages.iter().enumerate() {
            let parsed = Topic::parse(topic).map_err(|e| IngestError::Topic(e.to_string()));
            match parsed {
                Ok(topic) if topic.kind == TopicKind::Readings => {
                    match protocol::decode_reading_batch(payload)
                        .map_err(IngestError::from)
                        .and_then(|b| check_gateway(&topic, b.gateway.as_str()).map(|()| b))
                    {
                        Ok(batch) => {
                            batches.push(batch);
                            batch_of.push(i);
                        }
                        Err(e) => results[i] = Some(Err(e)),
                    }
                }
                _ => {}
            }
        }
        Metrics::time(&self.metrics().phases.decode, t);
        if !batches.is_empty() {
            let res = self.ingest_batches(&batches, now).await;
            for &i in &batch_of {
                results[i] = Some(match &res {
                    Ok(_) => Ok(()),
                    Err(IngestError::Store(e)) => Err(IngestError::Store(
                        store::StoreError::Invalid(format!("storing readings: {e}")),
                    )),
                    Err(e) => Err(IngestError::Topic(e.to_string())),
                });
            }
            if let Err(e) = res {
                // Keep the real error once (the others carry its text) for the caller's log.
                if let Some(&first) = batch_of.first() {
                    results[first] = Some(Err(e));
                }
            }
        }
        let mut out = Vec::with_capacity(messages.len());
        for (i, (topic, payload)) in messages.iter().enumerate() {
            let res = match results[i].take() {
                Some(r) => r,
                None => self.dispatch_uplink(topic, payload, now).await,
            };
            if let Err(
                IngestError::Payload(_)
                | IngestError::GatewayMismatch { .. }
                | IngestError::Topic(_),
            ) = &res
            {
                Metrics::add(&self.metrics().malformed, 1);
            }
            out.push(res);
        }
        out
    }

    /// Stores a batch's readings and hands their meters to rating ([`Worker::rate_pending`]).
    pub async fn ingest_batch(
        &self,
        batch: &ReadingBatch,
        now: DateTime<Utc>,
    ) -> Result<IngestReport, IngestError> {
        self.ingest_batches(std::slice::from_ref(batch), now).await
    }

    /// Stores the readings of several batches (of any gateways) in multi-row statements, one
    /// set per organization, and queues their meters for rating. The report sums them.
    pub async fn ingest_batches(
        &self,
        batches: &[ReadingBatch],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, IngestError> {
        let mut report = IngestReport::default();
        let mut rows_of: Vec<(store::OrgId, Vec<NewReading>)> = Vec::new();
        let mut dirty = Vec::new();
        for batch in batches {
            Metrics::add(&self.metrics().batches, 1);
            let wire = batch.gateway.as_str();
            let Some(mut gw) = self.gateway_entry(wire, now, false).await? else {
                tracing::warn!(
                    gateway = wire,
                    batch = batch.batch,
                    "readings of an unknown gateway"
                );
                Metrics::add(&self.metrics().unknown_gateway, 1);
                report.unknown_gateway = true;
                continue;
            };
            // A meter added since the gateway was cached: read the gateway again once.
            if batch
                .readings
                .iter()
                .any(|r| !gw.meters.contains_key(r.meter.as_str()))
            {
                if let Some(fresh) = self.gateway_entry(wire, now, true).await? {
                    gw = fresh;
                }
            }
            let idx = if let Some(i) = rows_of.iter().position(|(org, _)| *org == gw.org) {
                i
            } else {
                rows_of.push((gw.org, Vec::new()));
                rows_of.len() - 1
            };
            let rows = &mut rows_of[idx].1;
            let first = rows.len();
            let unknown = to_rows(batch, &gw, rows);
            dirty.extend(
                rows[first..]
                    .iter()
                    .filter(|r| r.energy_wh.is_some())
                    .map(|r| ((gw.org, r.meter_id), 1, Some(gw.id))),
            );
            if unknown > 0 {
                tracing::warn!(
                    gateway = wire,
                    batch = batch.batch,
                    unknown,
                    "readings of meters the gateway does not have"
                );
                Metrics::add(&self.metrics().unknown_meter, unknown);
                report.unknown_meters += unknown;
            }
        }
        let t = std::time::Instant::now();
        for (org, rows) in &rows_of {
            let stored = store::reading::insert_many_pooled(self.db(), *org, rows, now).await?;
            report.stored += stored;
            report.duplicates += rows.len() as u64 - stored;
        }
        Metrics::time(&self.metrics().phases.insert_readings, t);
        Metrics::add(&self.metrics().readings_stored, report.stored);
        Metrics::add(&self.metrics().readings_duplicate, report.duplicates);
        Metrics::add(&self.metrics().flushes, 1);
        if report.stored > 0 {
            self.mark_dirty_counted(dirty);
        }
        Ok(report)
    }
}

/// Appends the stored form of a batch's readings of known meters to `rows`; answers how many
/// readings named meters the gateway does not have.
fn to_rows(batch: &ReadingBatch, gw: &GatewayEntry, rows: &mut Vec<NewReading>) -> u64 {
    let batch_no = i64::try_from(batch.batch).ok();
    let mut unknown = 0;
    for r in &batch.readings {
        let Some(&meter_id) = gw.meters.get(r.meter.as_str()) else {
            unknown += 1;
            continue;
        };
        let mut row = NewReading {
            meter_id,
            ts: r.ts,
            energy_wh: None,
            tou_wh: [None; 4],
            voltage_v: None,
            current_a: None,
            power_kw: None,
            relay: None,
            error: None,
            gateway_batch: batch_no,
        };
        match &r.outcome {
            ReadingOutcome::Values(v) => {
                row.energy_wh = v.energy_kwh.and_then(wh);
                if let Some(tou) = &v.tou_kwh {
                    row.tou_wh =
                        [tou.sharp, tou.peak, tou.flat, tou.valley].map(|x| x.and_then(wh));
                }
                row.voltage_v = v.voltage_v.map(|d| d.to_string());
                row.current_a = v.current_a.map(|d| d.to_string());
                row.power_kw = v.power_kw.map(|d| d.to_string());
                row.relay = v.relay.map(|s| relay_name(s).to_owned());
            }
            ReadingOutcome::Error(e) => row.error = Some(e.to_string()),
        }
        rows.push(row);
    }
    unknown
}

fn check_gateway(topic: &Topic, payload_gateway: &str) -> Result<(), IngestError> {
    if topic.gateway.as_str() == payload_gateway {
        Ok(())
    } else {
        Err(IngestError::GatewayMismatch {
            topic: topic.gateway.as_str().to_owned(),
            payload: payload_gateway.to_owned(),
        })
    }
}
