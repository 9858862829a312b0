//! Meters: metering points with a relay, read over Modbus by a gateway. The CT ratio and the
//! maximum power are decimal strings in the database and `Decimal` here.

use chrono::Utc;
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::meter;
use crate::error::map_unique;
use crate::page::{fetch, Page, Paged};
use crate::scope::Scope;
use crate::{gateway, unit, GatewayId, Meter, MeterId, OrgId, StoreError, UnitId};

#[derive(Clone, Debug)]
pub struct NewMeter {
    pub gateway_id: GatewayId,
    pub unit_id: Option<UnitId>,
    pub bus: String,
    pub slave: i32,
    /// `[A-Za-z0-9_-]{1,64}`, unique within the gateway.
    pub wire_id: String,
    pub model: Option<String>,
    pub register_map: Option<serde_json::Value>,
    pub ct_ratio: Decimal,
    pub max_power_kw: Decimal,
}

/// Whether `id` is a valid meter wire id: `[A-Za-z0-9_-]{1,64}`.
pub fn is_valid_wire_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Creates a meter on a gateway (and optionally a unit) of the same organization.
pub async fn create(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    new: NewMeter,
) -> Result<Meter, StoreError> {
    let scope = scope.into();
    let org = scope.org;
    if !is_valid_wire_id(&new.wire_id) {
        return Err(StoreError::Invalid(format!(
            "meter id `{}` must match [A-Za-z0-9_-]{{1,64}}",
            new.wire_id
        )));
    }
    if new.ct_ratio <= Decimal::ZERO || new.max_power_kw <= Decimal::ZERO {
        return Err(StoreError::Invalid(
            "CT ratio and maximum power must be positive".into(),
        ));
    }
    gateway::get(conn, scope, new.gateway_id).await?;
    if let Some(unit_id) = new.unit_id {
        unit::get(conn, scope, unit_id).await?;
    }
    meter::ActiveModel {
        id: Set(MeterId::new()),
        organization_id: Set(org),
        gateway_id: Set(new.gateway_id),
        unit_id: Set(new.unit_id),
        bus: Set(new.bus),
        slave: Set(new.slave),
        wire_id: Set(new.wire_id),
        model: Set(new.model),
        register_map: Set(new.register_map.map(|m| m.to_string())),
        ct_ratio: Set(new.ct_ratio.normalize().to_string()),
        max_power_kw: Set(new.max_power_kw.normalize().to_string()),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await
    .map_err(map_unique)
}

pub async fn get(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: MeterId,
) -> Result<Meter, StoreError> {
    let scope = scope.into();
    meter::Entity::find_by_id(id)
        .filter(scope.condition::<meter::Entity>())
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Meters of the organization, of one gateway when `gateway_id` is given.
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    gateway_id: Option<GatewayId>,
    page: Page,
) -> Result<Paged<Meter>, StoreError> {
    let scope = scope.into();
    let filter = MeterFilter {
        gateway_id,
        ..MeterFilter::default()
    };
    list_filtered(conn, scope, &filter, page).await
}

/// List filters; `None` fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct MeterFilter {
    pub gateway_id: Option<GatewayId>,
    pub unit_id: Option<UnitId>,
}

pub async fn list_filtered(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    filter: &MeterFilter,
    page: Page,
) -> Result<Paged<Meter>, StoreError> {
    let scope = scope.into();
    let mut select = meter::Entity::find().filter(scope.condition::<meter::Entity>());
    if let Some(gateway_id) = filter.gateway_id {
        select = select.filter(meter::Column::GatewayId.eq(gateway_id));
    }
    if let Some(unit_id) = filter.unit_id {
        select = select.filter(meter::Column::UnitId.eq(unit_id));
    }
    fetch(conn, select.order_by_asc(meter::Column::Id), page).await
}

/// Changes to a meter; `None` fields stay, `Some(None)` clears.
#[derive(Clone, Debug, Default)]
pub struct MeterChanges {
    pub gateway_id: Option<GatewayId>,
    pub unit_id: Option<Option<UnitId>>,
    pub bus: Option<String>,
    pub slave: Option<i32>,
    pub wire_id: Option<String>,
    pub model: Option<Option<String>>,
    pub register_map: Option<Option<serde_json::Value>>,
    pub ct_ratio: Option<Decimal>,
    pub max_power_kw: Option<Decimal>,
}

/// Updates a meter of the organization; referenced gateway and unit must be the org's too.
pub async fn update(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: MeterId,
    changes: MeterChanges,
) -> Result<Meter, StoreError> {
    let scope = scope.into();
    let mut row: meter::ActiveModel = get(conn, scope, id).await?.into();
    if let Some(gateway_id) = changes.gateway_id {
        gateway::get(conn, scope, gateway_id).await?;
        row.gateway_id = Set(gateway_id);
    }
    if let Some(unit_id) = changes.unit_id {
        if let Some(u) = unit_id {
            unit::get(conn, scope, u).await?;
        }
        row.unit_id = Set(unit_id);
    }
    if let Some(bus) = changes.bus {
        row.bus = Set(bus);
    }
    if let Some(slave) = changes.slave {
        row.slave = Set(slave);
    }
    if let Some(wire_id) = changes.wire_id {
        if !is_valid_wire_id(&wire_id) {
            return Err(StoreError::Invalid(format!(
                "meter id `{wire_id}` must match [A-Za-z0-9_-]{{1,64}}"
            )));
        }
        row.wire_id = Set(wire_id);
    }
    if let Some(model) = changes.model {
        row.model = Set(model);
    }
    if let Some(map) = changes.register_map {
        row.register_map = Set(map.map(|m| m.to_string()));
    }
    for value in [changes.ct_ratio, changes.max_power_kw]
        .into_iter()
        .flatten()
    {
        if value <= Decimal::ZERO {
            return Err(StoreError::Invalid(
                "CT ratio and maximum power must be positive".into(),
            ));
        }
    }
    if let Some(ct) = changes.ct_ratio {
        row.ct_ratio = Set(ct.normalize().to_string());
    }
    if let Some(max) = changes.max_power_kw {
        row.max_power_kw = Set(max.normalize().to_string());
    }
    row.update(conn).await.map_err(map_unique)
}

/// Deletes a meter of the organization; a database error while readings or commands refer to it.
pub async fn delete(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: MeterId,
) -> Result<(), StoreError> {
    let scope = scope.into();
    let res = meter::Entity::delete_many()
        .filter(meter::Column::Id.eq(id))
        .filter(scope.condition::<meter::Entity>())
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// When the meter last delivered a reading with values, and the relay state it read back.
pub async fn last_reading(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: MeterId,
) -> Result<Option<crate::entity::reading::Model>, StoreError> {
    use crate::entity::reading;
    Ok(reading::Entity::find()
        .filter(reading::Column::OrganizationId.eq(org))
        .filter(reading::Column::MeterId.eq(id))
        .filter(reading::Column::Error.is_null())
        .order_by_desc(reading::Column::Ts)
        .one(conn)
        .await?)
}

impl Meter {
    pub fn ct_ratio(&self) -> Result<Decimal, StoreError> {
        parse_decimal("ct_ratio", &self.ct_ratio)
    }

    pub fn max_power_kw(&self) -> Result<Decimal, StoreError> {
        parse_decimal("max_power_kw", &self.max_power_kw)
    }
}

fn parse_decimal(field: &str, value: &str) -> Result<Decimal, StoreError> {
    value
        .parse()
        .map_err(|e| StoreError::Invalid(format!("{field} `{value}`: {e}")))
}
