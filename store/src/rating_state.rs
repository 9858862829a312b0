//! The rating state of each meter (the domain [`RatingState`] as JSON) and its lock: rating a
//! meter happens in a transaction that first locks the meter's row here (`FOR UPDATE` on
//! PostgreSQL; SQLite serialises writers), so any worker may rate any meter and two never
//! rate the same readings.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::{Energy, MeterReading, RatingState};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

use crate::entity::{rating_state, reading};
use crate::{MeterId, OrgId, StoreError};

/// Makes sure the meter has a row (so there is something to lock) without changing it.
async fn ensure_row(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter: MeterId,
) -> Result<(), StoreError> {
    let row = rating_state::ActiveModel {
        meter_id: Set(meter),
        organization_id: Set(org),
        state: Set(String::new()),
        last_ts: Set(None),
        updated_at: Set(Utc::now()),
    };
    let res = rating_state::Entity::insert(row)
        .on_conflict(
            OnConflict::column(rating_state::Column::MeterId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await;
    match res {
        Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Locks the meter's rating state for the rest of the caller's transaction and answers it
/// (`None` before the meter's first reading). Lock meters in a fixed order (by id) when one
/// transaction rates several, so two workers never wait on each other in a cycle.
pub async fn lock(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter: MeterId,
) -> Result<Option<RatingState>, StoreError> {
    // Writing first also takes SQLite's write lock before anything is read.
    ensure_row(conn, org, meter).await?;
    let row = rating_state::Entity::find_by_id(meter)
        .filter(rating_state::Column::OrganizationId.eq(org))
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    decode(&row.state)
}

/// Rows per multi-row statement: few parameters each, well under both backends' limits.
const ROWS_PER_STATEMENT: usize = 1_000;

/// [`lock`] for many meters in two statements: makes sure each has a row, then locks them all
/// in meter-id order (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's single writer, taken by
/// the first insert, serialises instead). Answers each meter's state; a meter of another
/// organization than the one given is left out. Two workers locking overlapping sets wait for
/// each other instead of deadlocking, because both lock in the same order.
pub async fn lock_many(
    conn: &impl ConnectionTrait,
    meters: &[(OrgId, MeterId)],
) -> Result<HashMap<MeterId, Option<RatingState>>, StoreError> {
    let mut out = HashMap::with_capacity(meters.len());
    if meters.is_empty() {
        return Ok(out);
    }
    let now = Utc::now();
    for chunk in meters.chunks(ROWS_PER_STATEMENT) {
        let rows = chunk.iter().map(|&(org, meter)| rating_state::ActiveModel {
            meter_id: Set(meter),
            organization_id: Set(org),
            state: Set(String::new()),
            last_ts: Set(None),
            updated_at: Set(now),
        });
        let res = rating_state::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(rating_state::Column::MeterId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await;
        match res {
            Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let orgs: HashMap<MeterId, OrgId> = meters.iter().map(|&(o, m)| (m, o)).collect();
    let mut ids: Vec<MeterId> = orgs.keys().copied().collect();
    ids.sort_unstable();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<(MeterId, OrgId, String)> = rating_state::Entity::find()
            .select_only()
            .column(rating_state::Column::MeterId)
            .column(rating_state::Column::OrganizationId)
            .column(rating_state::Column::State)
            .filter(rating_state::Column::MeterId.is_in(chunk.iter().copied()))
            .order_by_asc(rating_state::Column::MeterId)
            .lock_exclusive()
            .into_tuple()
            .all(conn)
            .await?;
        for (meter, org, state) in rows {
            if orgs.get(&meter) == Some(&org) {
                out.insert(meter, decode(&state)?);
            }
        }
    }
    Ok(out)
}

/// Saves the states of meters locked with [`lock_many`] in multi-row upserts.
pub async fn save_many(
    conn: &impl ConnectionTrait,
    states: &[(OrgId, MeterId, &RatingState)],
) -> Result<(), StoreError> {
    let now = Utc::now();
    for chunk in states.chunks(ROWS_PER_STATEMENT) {
        let rows = chunk
            .iter()
            .map(|&(org, meter, state)| {
                let json = serde_json::to_string(state)
                    .map_err(|e| StoreError::Invalid(format!("rating state: {e}")))?;
                Ok(rating_state::ActiveModel {
                    meter_id: Set(meter),
                    organization_id: Set(org),
                    state: Set(json),
                    last_ts: Set(Some(state.last_ts)),
                    updated_at: Set(now),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if rows.is_empty() {
            continue;
        }
        rating_state::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(rating_state::Column::MeterId)
                    .update_columns([
                        rating_state::Column::State,
                        rating_state::Column::LastTs,
                        rating_state::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// The state without locking (dashboards, tests).
pub async fn get(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter: MeterId,
) -> Result<Option<RatingState>, StoreError> {
    let row = rating_state::Entity::find_by_id(meter)
        .filter(rating_state::Column::OrganizationId.eq(org))
        .one(conn)
        .await?;
    row.map_or(Ok(None), |r| decode(&r.state))
}

/// Saves the state of a meter locked with [`lock`].
pub async fn save(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter: MeterId,
    state: &RatingState,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(state)
        .map_err(|e| StoreError::Invalid(format!("rating state: {e}")))?;
    rating_state::Entity::update_many()
        .col_expr(rating_state::Column::State, Expr::value(json))
        .col_expr(
            rating_state::Column::LastTs,
            Expr::value(Some(state.last_ts)),
        )
        .col_expr(rating_state::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(rating_state::Column::MeterId.eq(meter))
        .filter(rating_state::Column::OrganizationId.eq(org))
        .exec(conn)
        .await?;
    Ok(())
}

/// The time each meter was last rated (for offline detection), by meter.
pub async fn last_rated(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter: MeterId,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(rating_state::Entity::find_by_id(meter)
        .filter(rating_state::Column::OrganizationId.eq(org))
        .select_only()
        .column(rating_state::Column::LastTs)
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(conn)
        .await?
        .flatten())
}

fn decode(json: &str) -> Result<Option<RatingState>, StoreError> {
    if json.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(json)
        .map(Some)
        .map_err(|e| StoreError::Invalid(format!("rating state: {e}")))
}

/// An operator's resolution of a meter anomaly: rating resumes from the meter's newest
/// reading (kept money and tier cycle; the consumption in between is not charged here, an
/// adjustment does that if wanted), and the anomaly's work order is resolved. Answers whether
/// the meter was suspended.
pub async fn reset_baseline<C>(db: &C, org: OrgId, meter: MeterId) -> Result<bool, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = db.begin().await?;
    let Some(state) = lock(&txn, org, meter).await? else {
        txn.rollback().await?;
        return Ok(false);
    };
    if state.anomaly.is_none() {
        txn.rollback().await?;
        return Ok(false);
    }
    let newest = reading::Entity::find()
        .filter(reading::Column::OrganizationId.eq(org))
        .filter(reading::Column::MeterId.eq(meter))
        .filter(reading::Column::EnergyWh.is_not_null())
        .order_by_desc(reading::Column::Ts)
        .one(&txn)
        .await?;
    let Some((ts, wh)) = newest.and_then(|r| r.energy_wh.map(|wh| (r.ts, wh))) else {
        txn.rollback().await?;
        return Err(StoreError::Invalid(
            "the meter has no reading to resume from".into(),
        ));
    };
    let from = MeterReading {
        ts,
        total: Energy::from_wh(wh),
        tou: None,
    };
    let next = state.reset_baseline(&from);
    save(&txn, org, meter, &next).await?;
    crate::work_order::resolve_by_key(&txn, org, &format!("anomaly:{meter}"), Utc::now()).await?;
    txn.commit().await?;
    Ok(true)
}
