//! Leases for scheduled jobs, so several workers can run the same schedule and each job runs
//! once: a worker takes the lease with one conditional write (insert, or update of an expired
//! lease or its own) and runs the job only when that write happened.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::entity::job_lease;
use crate::StoreError;

/// Takes the lease `name` for `holder` until `until` if it is free, expired or already
/// `holder`'s; answers whether `holder` now holds it.
pub async fn try_take(
    conn: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let row = job_lease::ActiveModel {
        name: Set(name.to_owned()),
        holder: Set(holder.to_owned()),
        leased_until: Set(until),
        last_run_at: Set(None),
    };
    let res = job_lease::Entity::insert(row)
        .on_conflict(
            OnConflict::column(job_lease::Column::Name)
                .update_columns([job_lease::Column::Holder, job_lease::Column::LeasedUntil])
                .action_and_where(
                    Expr::col((job_lease::Entity, job_lease::Column::LeasedUntil))
                        .lt(now)
                        .or(Expr::col((job_lease::Entity, job_lease::Column::Holder)).eq(holder)),
                )
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await;
    match res {
        Ok(n) => Ok(n == 1),
        Err(sea_orm::DbErr::RecordNotInserted) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Records that the job ran (so it is not run again for the same period).
pub async fn mark_run(
    conn: &impl ConnectionTrait,
    name: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    job_lease::Entity::update_many()
        .col_expr(job_lease::Column::LastRunAt, Expr::value(Some(at)))
        .filter(job_lease::Column::Name.eq(name))
        .exec(conn)
        .await?;
    Ok(())
}

/// When the job last ran.
pub async fn last_run(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(job_lease::Entity::find_by_id(name.to_owned())
        .one(conn)
        .await?
        .and_then(|l| l.last_run_at))
}

/// Leases named `prefix...` that expired before `now`, as (name, holder), oldest first. The
/// worker's liveness leases (`mqtt-session:{worker_id}`) are found this way.
pub async fn expired_with_prefix(
    conn: &impl ConnectionTrait,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(job_lease::Entity::find()
        .filter(job_lease::Column::Name.starts_with(prefix))
        .filter(job_lease::Column::LeasedUntil.lt(now))
        .order_by_asc(job_lease::Column::LeasedUntil)
        .all(conn)
        .await?
        .into_iter()
        .map(|l| (l.name, l.holder))
        .collect())
}

/// Gives the lease `name` up if `holder` holds it (the next [`try_take`] of anyone succeeds).
pub async fn release(
    conn: &impl ConnectionTrait,
    name: &str,
    holder: &str,
) -> Result<(), StoreError> {
    job_lease::Entity::delete_many()
        .filter(job_lease::Column::Name.eq(name))
        .filter(job_lease::Column::Holder.eq(holder))
        .exec(conn)
        .await?;
    Ok(())
}
