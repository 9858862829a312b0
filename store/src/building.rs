//! Buildings of a site.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::building;
use crate::page::{fetch, Page, Paged};
use crate::scope::Scope;
use crate::{site, Building, BuildingId, SiteId, StoreError};

/// Creates a building in a site of the same organization (another org's site is `NotFound`).
pub async fn create(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    site_id: SiteId,
    name: &str,
) -> Result<Building, StoreError> {
    let scope = scope.into();
    site::get(conn, scope, site_id).await?;
    Ok(building::ActiveModel {
        id: Set(BuildingId::new()),
        organization_id: Set(scope.org),
        site_id: Set(site_id),
        name: Set(name.to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await?)
}

pub async fn get(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: BuildingId,
) -> Result<Building, StoreError> {
    building::Entity::find_by_id(id)
        .filter(scope.into().condition::<building::Entity>())
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Buildings of the organization, of one site when `site_id` is given.
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    site_id: Option<SiteId>,
    page: Page,
) -> Result<Paged<Building>, StoreError> {
    let mut select = building::Entity::find().filter(scope.into().condition::<building::Entity>());
    if let Some(site_id) = site_id {
        select = select.filter(building::Column::SiteId.eq(site_id));
    }
    fetch(conn, select.order_by_asc(building::Column::Id), page).await
}

/// Renames a building of the organization.
pub async fn rename(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: BuildingId,
    name: &str,
) -> Result<Building, StoreError> {
    let mut row: building::ActiveModel = get(conn, scope, id).await?.into();
    row.name = Set(name.to_owned());
    Ok(row.update(conn).await?)
}

/// Deletes a building of the organization; a database error when units remain.
pub async fn delete(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: BuildingId,
) -> Result<(), StoreError> {
    let res = building::Entity::delete_many()
        .filter(building::Column::Id.eq(id))
        .filter(scope.into().condition::<building::Entity>())
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}
