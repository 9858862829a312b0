//! Readings as stored: one row per meter and timestamp (a unique index), inserted in
//! multi-row statements that skip rows already stored, so a redelivered batch is harmless.
//! Energy is integer Wh; instantaneous values keep the meter's decimal strings.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::entity::reading;
use crate::{MeterId, OrgId, StoreError};

/// Rows per INSERT: 16 parameters each stays under SQLite's and PostgreSQL's limits.
const ROWS_PER_STATEMENT: usize = 1_000;

/// A row of `readings`.
pub type Reading = reading::Model;

/// A reading to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReading {
    pub meter_id: MeterId,
    pub ts: DateTime<Utc>,
    pub energy_wh: Option<i64>,
    /// Sharp, peak, flat, valley.
    pub tou_wh: [Option<i64>; 4],
    pub voltage_v: Option<String>,
    pub current_a: Option<String>,
    pub power_kw: Option<String>,
    pub relay: Option<String>,
    pub error: Option<String>,
    pub gateway_batch: Option<i64>,
}

/// Stores readings of `org`, skipping those already stored (same meter and timestamp);
/// answers how many were new. The caller has checked that the meters belong to `org`.
pub async fn insert_many(
    conn: &impl ConnectionTrait,
    org: OrgId,
    readings: &[NewReading],
    received_at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut inserted = 0;
    for chunk in readings.chunks(ROWS_PER_STATEMENT) {
        let rows = chunk.iter().map(|r| reading::ActiveModel {
            organization_id: Set(org),
            meter_id: Set(r.meter_id),
            ts: Set(r.ts),
            energy_wh: Set(r.energy_wh),
            tou_sharp_wh: Set(r.tou_wh[0]),
            tou_peak_wh: Set(r.tou_wh[1]),
            tou_flat_wh: Set(r.tou_wh[2]),
            tou_valley_wh: Set(r.tou_wh[3]),
            voltage_v: Set(r.voltage_v.clone()),
            current_a: Set(r.current_a.clone()),
            power_kw: Set(r.power_kw.clone()),
            relay: Set(r.relay.clone()),
            error: Set(r.error.clone()),
            gateway_batch: Set(r.gateway_batch),
            received_at: Set(received_at),
            ..Default::default()
        });
        let res = reading::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([reading::Column::MeterId, reading::Column::Ts])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await;
        match res {
            Ok(n) => inserted += n,
            // Every row of the chunk was already stored.
            Err(sea_orm::DbErr::RecordNotInserted) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(inserted)
}

/// Readings of a meter in `[from, to)`, oldest first, at most `limit`.
pub async fn of_meter(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter_id: MeterId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Reading>, StoreError> {
    Ok(reading::Entity::find()
        .filter(reading::Column::OrganizationId.eq(org))
        .filter(reading::Column::MeterId.eq(meter_id))
        .filter(reading::Column::Ts.gte(from))
        .filter(reading::Column::Ts.lt(to))
        .order_by_asc(reading::Column::Ts)
        .limit(limit)
        .all(conn)
        .await?)
}

/// The time of the last reading with values (not an error) of any of `meters`.
pub async fn last_good_at(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meters: &[MeterId],
) -> Result<Option<DateTime<Utc>>, StoreError> {
    if meters.is_empty() {
        return Ok(None);
    }
    Ok(reading::Entity::find()
        .filter(reading::Column::OrganizationId.eq(org))
        .filter(reading::Column::MeterId.is_in(meters.to_vec()))
        .filter(reading::Column::Error.is_null())
        .select_only()
        .column_as(reading::Column::Ts.max(), "ts")
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(conn)
        .await?
        .flatten())
}

/// The newest relay state reported by any of `meters`, with its time.
pub async fn last_relay(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meters: &[MeterId],
) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
    if meters.is_empty() {
        return Ok(None);
    }
    let found = reading::Entity::find()
        .filter(reading::Column::OrganizationId.eq(org))
        .filter(reading::Column::MeterId.is_in(meters.to_vec()))
        .filter(reading::Column::Relay.is_not_null())
        .order_by_desc(reading::Column::Ts)
        .one(conn)
        .await?;
    Ok(found.and_then(|r| r.relay.map(|relay| (relay, r.ts))))
}
