//! Retired meters: a meter replaced by another keeps its rows (readings, commands, ledger
//! memos refer to it) but leaves service: it is detached from its unit (nothing more is charged
//! through it, commands go to the unit's other meters), left out of its gateway's published
//! config, and its wire id is freed when the new meter takes it over.

pub mod entity;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::meter::MeterChanges;
use crate::{Meter, MeterId, OrgId, StoreError, UserId};

pub use entity::Model as Retirement;

/// What is known about a retirement.
#[derive(Clone, Debug)]
pub struct NewRetirement {
    pub retired_at: DateTime<Utc>,
    pub replaced_by: Option<MeterId>,
    pub final_wh: i64,
    pub retired_by: Option<UserId>,
    /// Rename the meter's wire id (so a new meter on the same gateway can take it).
    pub free_wire_id: bool,
}

/// Takes a meter of `org` out of service in the caller's transaction. A meter retires once:
/// a second time is `Duplicate`.
pub async fn retire(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter: &Meter,
    new: NewRetirement,
) -> Result<Retirement, StoreError> {
    if get(conn, org, meter.id).await?.is_some() {
        return Err(StoreError::Duplicate);
    }
    let changes = MeterChanges {
        unit_id: Some(None),
        wire_id: new.free_wire_id.then(|| retired_wire_id(meter)),
        ..MeterChanges::default()
    };
    crate::meter::update(conn, org, meter.id, changes).await?;
    Ok(entity::ActiveModel {
        meter_id: Set(meter.id),
        organization_id: Set(org),
        retired_at: Set(new.retired_at),
        replaced_by: Set(new.replaced_by),
        final_wh: Set(new.final_wh),
        wire_id: Set(meter.wire_id.clone()),
        retired_by: Set(new.retired_by),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await?)
}

/// A wire id no live meter uses: `x` and the meter's id (unique, valid, not sent anywhere).
fn retired_wire_id(meter: &Meter) -> String {
    format!("x{}", uuid::Uuid::from(meter.id).simple())
}

/// The retirement of a meter of `org`, if it was retired.
pub async fn get(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter: MeterId,
) -> Result<Option<Retirement>, StoreError> {
    Ok(entity::Entity::find_by_id(meter)
        .filter(entity::Column::OrganizationId.eq(org))
        .one(conn)
        .await?)
}

/// The retired meters among `meters` (all of `org`).
pub async fn retired_among(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meters: &[MeterId],
) -> Result<HashSet<MeterId>, StoreError> {
    if meters.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(entity::Entity::find()
        .filter(entity::Column::OrganizationId.eq(org))
        .filter(entity::Column::MeterId.is_in(meters.to_vec()))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.meter_id)
        .collect())
}

/// Records which meter took a retired meter's place.
pub async fn set_replaced_by(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter: MeterId,
    successor: MeterId,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    entity::Entity::update_many()
        .col_expr(entity::Column::ReplacedBy, Expr::value(Some(successor)))
        .filter(entity::Column::MeterId.eq(meter))
        .filter(entity::Column::OrganizationId.eq(org))
        .exec(conn)
        .await?;
    Ok(())
}
