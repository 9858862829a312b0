//! Readings entered by hand: a dead meter read on site, the final reading of a meter that is
//! replaced or of an account that closes, the start reading of a new meter.
//!
//! A manual reading is an ordinary `readings` row, stored through [`crate::reading::insert_many`]
//! like the gateways' readings and rated by the same rating path (unique per meter and
//! timestamp, so a second entry at the same time is a duplicate). The `manual_readings` row
//! beside it records who entered it and why. A register never goes down: a value below the
//! meter's previous reading, or above a later one, is refused before anything is kept.

pub mod entity;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::reading;
use crate::page::{fetch, Page, Paged};
use crate::reading::{NewReading, Reading};
use crate::{MeterId, OrgId, StoreError, UserId};

/// Why a reading was entered by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The meter cannot be read remotely (dead, offline).
    Manual,
    /// The last reading of a meter being replaced or of an account being closed.
    Final,
    /// The first reading of a new meter: its baseline.
    Start,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Manual => "manual",
            Purpose::Final => "final",
            Purpose::Start => "start",
        }
    }
}

/// A reading to enter.
#[derive(Clone, Debug)]
pub struct NewManualReading {
    pub meter_id: MeterId,
    pub ts: DateTime<Utc>,
    /// Total active energy register, Wh (before the CT ratio).
    pub energy_wh: i64,
    pub purpose: Purpose,
    pub entered_by: Option<UserId>,
    pub note: Option<String>,
}

/// The outcome of [`enter`]. Only `Stored` wrote anything the caller should keep; on the others
/// the caller rolls its transaction back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entered {
    Stored(Box<Reading>),
    /// The meter already has a reading at that time.
    Duplicate,
    /// The register would go down: a neighbouring reading contradicts the value.
    WentDown {
        neighbour_ts: DateTime<Utc>,
        neighbour_wh: i64,
    },
}

/// Stores a manual reading of a meter of `org` in the caller's transaction. The meter must be
/// the organization's (else `NotFound`).
pub async fn enter(
    conn: &impl ConnectionTrait,
    org: OrgId,
    new: NewManualReading,
) -> Result<Entered, StoreError> {
    crate::meter::get(conn, org, new.meter_id).await?;
    if new.energy_wh < 0 {
        return Err(StoreError::Invalid("a register is never negative".into()));
    }
    let row = NewReading {
        meter_id: new.meter_id,
        ts: new.ts,
        energy_wh: Some(new.energy_wh),
        tou_wh: [None; 4],
        voltage_v: None,
        current_a: None,
        power_kw: None,
        relay: None,
        error: None,
        gateway_batch: None,
    };
    if crate::reading::insert_many(conn, org, std::slice::from_ref(&row), Utc::now()).await? == 0 {
        return Ok(Entered::Duplicate);
    }
    let neighbours = [
        reading::Entity::find()
            .filter(reading::Column::OrganizationId.eq(org))
            .filter(reading::Column::MeterId.eq(new.meter_id))
            .filter(reading::Column::EnergyWh.gt(new.energy_wh))
            .filter(reading::Column::Ts.lt(new.ts))
            .order_by_desc(reading::Column::Ts)
            .one(conn)
            .await?,
        reading::Entity::find()
            .filter(reading::Column::OrganizationId.eq(org))
            .filter(reading::Column::MeterId.eq(new.meter_id))
            .filter(reading::Column::EnergyWh.lt(new.energy_wh))
            .filter(reading::Column::Ts.gt(new.ts))
            .order_by_asc(reading::Column::Ts)
            .one(conn)
            .await?,
    ];
    if let Some(n) = neighbours.into_iter().flatten().next() {
        return Ok(Entered::WentDown {
            neighbour_ts: n.ts,
            neighbour_wh: n.energy_wh.unwrap_or_default(),
        });
    }
    entity::ActiveModel {
        organization_id: Set(org),
        meter_id: Set(new.meter_id),
        ts: Set(new.ts),
        purpose: Set(new.purpose.as_str().to_owned()),
        entered_by: Set(new.entered_by),
        note: Set(new.note),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    let stored = reading::Entity::find()
        .filter(reading::Column::OrganizationId.eq(org))
        .filter(reading::Column::MeterId.eq(new.meter_id))
        .filter(reading::Column::Ts.eq(new.ts))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(Entered::Stored(Box::new(stored)))
}

/// A stored reading and, when it was entered by hand, the record of who and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcedReading {
    pub reading: Reading,
    pub manual: Option<entity::Model>,
}

/// Readings of a meter of `org` in `[from, to)`, newest first, one page, each with its source.
pub async fn list(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter: MeterId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    page: Page,
) -> Result<Paged<SourcedReading>, StoreError> {
    let select = reading::Entity::find()
        .filter(reading::Column::OrganizationId.eq(org))
        .filter(reading::Column::MeterId.eq(meter))
        .filter(reading::Column::Ts.gte(from))
        .filter(reading::Column::Ts.lt(to))
        .order_by_desc(reading::Column::Ts);
    let paged = fetch(conn, select, page).await?;
    let mut manual = match (paged.items.last(), paged.items.first()) {
        (Some(oldest), Some(newest)) => {
            entity::Entity::find()
                .filter(entity::Column::OrganizationId.eq(org))
                .filter(entity::Column::MeterId.eq(meter))
                .filter(entity::Column::Ts.gte(oldest.ts))
                .filter(entity::Column::Ts.lte(newest.ts))
                .all(conn)
                .await?
        }
        _ => Vec::new(),
    };
    let items = paged
        .items
        .into_iter()
        .map(|reading| {
            let found = manual.iter().position(|m| m.ts == reading.ts);
            SourcedReading {
                manual: found.map(|i| manual.swap_remove(i)),
                reading,
            }
        })
        .collect();
    Ok(Paged {
        items,
        total: paged.total,
    })
}
