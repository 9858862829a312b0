//! Readings as stored: one row per meter and timestamp (a unique index), inserted in
//! multi-row statements that skip rows already stored, so a redelivered batch is harmless.
//! Energy is integer Wh; instantaneous values keep the meter's decimal strings.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement,
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

/// A stored reading with energy that rating has not passed yet: what rating needs of it.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct Unrated {
    pub meter_id: MeterId,
    pub ts: DateTime<Utc>,
    pub energy_wh: i64,
    pub tou_sharp_wh: Option<i64>,
    pub tou_peak_wh: Option<i64>,
    pub tou_flat_wh: Option<i64>,
    pub tou_valley_wh: Option<i64>,
    pub relay: Option<String>,
}

/// Meters per query of [`unrated`].
const METERS_PER_QUERY: usize = 2_000;

/// The readings with energy after each meter's rating state (`last_ts`), oldest first per
/// meter and at most `per_meter` of each, in one query per [`METERS_PER_QUERY`] meters (a
/// window over the `(meter_id, ts)` index). The caller holds the meters' rating locks and
/// has checked that they belong to its organizations.
pub async fn unrated(
    conn: &impl ConnectionTrait,
    meters: &[MeterId],
    per_meter: u64,
) -> Result<Vec<Unrated>, StoreError> {
    let backend = conn.get_database_backend();
    let mut out = Vec::new();
    for chunk in meters.chunks(METERS_PER_QUERY) {
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() + 1);
        let mut list = String::with_capacity(chunk.len() * 5);
        for (i, m) in chunk.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            if backend == DbBackend::Postgres {
                let _ = write!(list, "${}", i + 1);
            } else {
                list.push('?');
            }
            values.push((*m).into());
        }
        let limit = if backend == DbBackend::Postgres {
            format!("${}", chunk.len() + 1)
        } else {
            "?".to_owned()
        };
        values.push(i64::try_from(per_meter).unwrap_or(i64::MAX).into());
        let sql = format!(
            "SELECT meter_id, ts, energy_wh, tou_sharp_wh, tou_peak_wh, tou_flat_wh, \
             tou_valley_wh, relay FROM (\
               SELECT r.meter_id, r.ts, r.energy_wh, r.tou_sharp_wh, r.tou_peak_wh, \
                      r.tou_flat_wh, r.tou_valley_wh, r.relay, \
                      ROW_NUMBER() OVER (PARTITION BY r.meter_id ORDER BY r.ts) AS rn \
               FROM readings r JOIN rating_states s ON s.meter_id = r.meter_id \
               WHERE r.meter_id IN ({list}) AND r.energy_wh IS NOT NULL \
                 AND (s.last_ts IS NULL OR r.ts > s.last_ts)\
             ) x WHERE rn <= {limit} ORDER BY meter_id, ts"
        );
        out.extend(
            Unrated::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
                .all(conn)
                .await?,
        );
    }
    Ok(out)
}

/// Rows per `INSERT ... SELECT FROM UNNEST(...)` on PostgreSQL: arrays, so no parameter limit;
/// bounded to keep one statement's time short.
const ROWS_PER_UNNEST: usize = 10_000;

/// [`insert_many`] on the connection pool; on PostgreSQL one `INSERT ... SELECT FROM
/// UNNEST($1::uuid[], ...) ON CONFLICT DO NOTHING` per [`ROWS_PER_UNNEST`] rows: a statement
/// of fifteen array parameters instead of fifteen parameters per row, which the server and the
/// driver handle at close to the speed of `COPY`.
pub async fn insert_many_pooled(
    db: &sea_orm::DatabaseConnection,
    org: OrgId,
    readings: &[NewReading],
    received_at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return insert_many(db, org, readings, received_at).await;
    }
    let pool = db.get_postgres_connection_pool();
    let mut inserted = 0;
    for chunk in readings.chunks(ROWS_PER_UNNEST) {
        let col = |f: fn(&NewReading) -> Option<i64>| chunk.iter().map(f).collect::<Vec<_>>();
        let text = |f: fn(&NewReading) -> Option<String>| chunk.iter().map(f).collect::<Vec<_>>();
        let res = sea_orm::sqlx::query(
            "INSERT INTO readings (organization_id, meter_id, ts, energy_wh, tou_sharp_wh, \
             tou_peak_wh, tou_flat_wh, tou_valley_wh, voltage_v, current_a, power_kw, relay, \
             error, gateway_batch, received_at) \
             SELECT $1, u.* , $14 FROM UNNEST($2::uuid[], $3::timestamptz[], $4::bigint[], \
             $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], \
             $11::text[], $12::text[], $13::text[], $15::bigint[]) AS u \
             ON CONFLICT (meter_id, ts) DO NOTHING",
        )
        .bind(org.as_uuid())
        .bind(
            chunk
                .iter()
                .map(|r| r.meter_id.as_uuid())
                .collect::<Vec<_>>(),
        )
        .bind(chunk.iter().map(|r| r.ts).collect::<Vec<_>>())
        .bind(col(|r| r.energy_wh))
        .bind(col(|r| r.tou_wh[0]))
        .bind(col(|r| r.tou_wh[1]))
        .bind(col(|r| r.tou_wh[2]))
        .bind(col(|r| r.tou_wh[3]))
        .bind(text(|r| r.voltage_v.clone()))
        .bind(text(|r| r.current_a.clone()))
        .bind(text(|r| r.power_kw.clone()))
        .bind(text(|r| r.relay.clone()))
        .bind(text(|r| r.error.clone()))
        .bind(received_at)
        .bind(col(|r| r.gateway_batch))
        .execute(pool)
        .await
        .map_err(|e| StoreError::Db(sea_orm::DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))))?;
        inserted += res.rows_affected();
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
