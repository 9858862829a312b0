//! Units: rentable flats and shops of a building.

use chrono::Utc;
use sea_orm::{
    sea_query::Query, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use crate::entity::{building as building_entity, unit};
use crate::page::{fetch, Page, Paged};
use crate::scope::Scope;
use crate::{building, BuildingId, SiteId, StoreError, Unit, UnitId, UnitKind};

/// Creates a unit in a building of the same organization (another org's building is `NotFound`).
pub async fn create(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    building_id: BuildingId,
    name: &str,
    kind: UnitKind,
) -> Result<Unit, StoreError> {
    let scope = scope.into();
    building::get(conn, scope, building_id).await?;
    Ok(unit::ActiveModel {
        id: Set(UnitId::new()),
        organization_id: Set(scope.org),
        building_id: Set(building_id),
        name: Set(name.to_owned()),
        kind: Set(kind),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await?)
}

pub async fn get(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: UnitId,
) -> Result<Unit, StoreError> {
    unit::Entity::find_by_id(id)
        .filter(scope.into().condition::<unit::Entity>())
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Units of the organization, of one building when `building_id` is given.
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    building_id: Option<BuildingId>,
    page: Page,
) -> Result<Paged<Unit>, StoreError> {
    let filter = UnitFilter {
        building_id,
        ..UnitFilter::default()
    };
    list_filtered(conn, scope, &filter, page).await
}

/// List filters; `None` fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct UnitFilter {
    pub building_id: Option<BuildingId>,
    /// Units of any building of this site.
    pub site_id: Option<SiteId>,
    pub kind: Option<UnitKind>,
    /// Part of the name.
    pub name: Option<String>,
}

pub async fn list_filtered(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    filter: &UnitFilter,
    page: Page,
) -> Result<Paged<Unit>, StoreError> {
    let scope = scope.into();
    let org = scope.org;
    let mut select = unit::Entity::find().filter(scope.condition::<unit::Entity>());
    if let Some(building_id) = filter.building_id {
        select = select.filter(unit::Column::BuildingId.eq(building_id));
    }
    if let Some(site_id) = filter.site_id {
        let buildings = Query::select()
            .column(building_entity::Column::Id)
            .from(building_entity::Entity)
            .and_where(building_entity::Column::OrganizationId.eq(org))
            .and_where(building_entity::Column::SiteId.eq(site_id))
            .to_owned();
        select = select.filter(unit::Column::BuildingId.in_subquery(buildings));
    }
    if let Some(kind) = filter.kind {
        select = select.filter(unit::Column::Kind.eq(kind));
    }
    if let Some(name) = &filter.name {
        select = select.filter(unit::Column::Name.contains(name));
    }
    fetch(conn, select.order_by_asc(unit::Column::Id), page).await
}

/// Renames a unit or changes its kind.
pub async fn update(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: UnitId,
    name: Option<String>,
    kind: Option<UnitKind>,
) -> Result<Unit, StoreError> {
    let mut row: unit::ActiveModel = get(conn, scope, id).await?.into();
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(kind) = kind {
        row.kind = Set(kind);
    }
    Ok(row.update(conn).await?)
}

/// Deletes a unit of the organization; a database error when accounts or meters remain.
pub async fn delete(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: UnitId,
) -> Result<(), StoreError> {
    let res = unit::Entity::delete_many()
        .filter(unit::Column::Id.eq(id))
        .filter(scope.into().condition::<unit::Entity>())
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}
