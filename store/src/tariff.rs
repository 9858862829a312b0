//! Tariffs and their versions. A version holds the domain tariff definition as JSON and applies
//! from its `effective_from`; consumption is rated with the version in force when it was used.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::{tariff, tariff_version};
use crate::error::map_unique;
use crate::page::{fetch, Page, Paged};
use crate::{OrgId, StoreError, Tariff, TariffId, TariffVersion, TariffVersionId};

pub async fn create(
    conn: &impl ConnectionTrait,
    org: OrgId,
    name: &str,
) -> Result<Tariff, StoreError> {
    Ok(tariff::ActiveModel {
        id: Set(TariffId::new()),
        organization_id: Set(org),
        name: Set(name.to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await?)
}

pub async fn get(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: TariffId,
) -> Result<Tariff, StoreError> {
    tariff::Entity::find_by_id(id)
        .filter(tariff::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn list(
    conn: &impl ConnectionTrait,
    org: OrgId,
    page: Page,
) -> Result<Paged<Tariff>, StoreError> {
    let select = tariff::Entity::find()
        .filter(tariff::Column::OrganizationId.eq(org))
        .order_by_asc(tariff::Column::Id);
    fetch(conn, select, page).await
}

/// Adds a version of a tariff of the organization; [`StoreError::Duplicate`] when one already
/// starts at `effective_from`.
pub async fn add_version(
    conn: &impl ConnectionTrait,
    org: OrgId,
    tariff_id: TariffId,
    effective_from: DateTime<Utc>,
    definition: &serde_json::Value,
) -> Result<TariffVersion, StoreError> {
    get(conn, org, tariff_id).await?;
    tariff_version::ActiveModel {
        id: Set(TariffVersionId::new()),
        organization_id: Set(org),
        tariff_id: Set(tariff_id),
        effective_from: Set(effective_from),
        definition: Set(definition.to_string()),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await
    .map_err(map_unique)
}

/// Every version of a tariff, oldest first (empty for another organization's tariff).
pub async fn versions(
    conn: &impl ConnectionTrait,
    org: OrgId,
    tariff_id: TariffId,
) -> Result<Vec<TariffVersion>, StoreError> {
    Ok(tariff_version::Entity::find()
        .filter(tariff_version::Column::OrganizationId.eq(org))
        .filter(tariff_version::Column::TariffId.eq(tariff_id))
        .order_by_asc(tariff_version::Column::EffectiveFrom)
        .all(conn)
        .await?)
}

impl TariffVersion {
    /// The stored definition as JSON (the domain crate deserialises it).
    pub fn definition_json(&self) -> Result<serde_json::Value, StoreError> {
        serde_json::from_str(&self.definition)
            .map_err(|e| StoreError::Invalid(format!("tariff version {}: {e}", self.id)))
    }
}

/// Renames a tariff of the organization.
pub async fn rename(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: TariffId,
    name: &str,
) -> Result<Tariff, StoreError> {
    let mut row: tariff::ActiveModel = get(conn, org, id).await?.into();
    row.name = Set(name.to_owned());
    Ok(row.update(conn).await?)
}
