//! Organizations: the tenancy boundary. Creating one is a platform-admin act, so it is unscoped.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, Set};

use crate::entity::organization;
use crate::page::{fetch, Page, Paged};
use crate::{OrgId, Organization, StoreError};

/// Creates an organization (platform admin only: the caller checks the role).
pub async fn create_organization(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<Organization, StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid("organization name is empty".into()));
    }
    Ok(organization::ActiveModel {
        id: Set(OrgId::new()),
        name: Set(name.to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await?)
}

/// The caller's own organization.
pub async fn get_organization(
    conn: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Organization, StoreError> {
    organization::Entity::find_by_id(org)
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Every organization of the platform, oldest first (platform admins only: the caller checks).
pub async fn list(
    conn: &impl ConnectionTrait,
    page: Page,
) -> Result<Paged<Organization>, StoreError> {
    let select = organization::Entity::find().order_by_asc(organization::Column::Id);
    fetch(conn, select, page).await
}
