//! Units: rentable flats and shops of a building.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::unit;
use crate::page::{fetch, Page, Paged};
use crate::{building, BuildingId, OrgId, StoreError, Unit, UnitId, UnitKind};

/// Creates a unit in a building of the same organization (another org's building is `NotFound`).
pub async fn create(
    conn: &impl ConnectionTrait,
    org: OrgId,
    building_id: BuildingId,
    name: &str,
    kind: UnitKind,
) -> Result<Unit, StoreError> {
    building::get(conn, org, building_id).await?;
    Ok(unit::ActiveModel {
        id: Set(UnitId::new()),
        organization_id: Set(org),
        building_id: Set(building_id),
        name: Set(name.to_owned()),
        kind: Set(kind),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await?)
}

pub async fn get(conn: &impl ConnectionTrait, org: OrgId, id: UnitId) -> Result<Unit, StoreError> {
    unit::Entity::find_by_id(id)
        .filter(unit::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Units of the organization, of one building when `building_id` is given.
pub async fn list(
    conn: &impl ConnectionTrait,
    org: OrgId,
    building_id: Option<BuildingId>,
    page: Page,
) -> Result<Paged<Unit>, StoreError> {
    let mut select = unit::Entity::find().filter(unit::Column::OrganizationId.eq(org));
    if let Some(building_id) = building_id {
        select = select.filter(unit::Column::BuildingId.eq(building_id));
    }
    fetch(conn, select.order_by_asc(unit::Column::Id), page).await
}
