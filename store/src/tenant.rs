//! Tenants: the people occupying units and paying for their power.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::tenant;
use crate::page::{fetch, Page, Paged};
use crate::{OrgId, StoreError, Tenant, TenantId};

pub async fn create(
    conn: &impl ConnectionTrait,
    org: OrgId,
    name: &str,
    phone: Option<&str>,
) -> Result<Tenant, StoreError> {
    Ok(tenant::ActiveModel {
        id: Set(TenantId::new()),
        organization_id: Set(org),
        name: Set(name.to_owned()),
        phone: Set(phone.map(str::to_owned)),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await?)
}

pub async fn get(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: TenantId,
) -> Result<Tenant, StoreError> {
    tenant::Entity::find_by_id(id)
        .filter(tenant::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Tenants of the organization with this phone number (tenant sign-in).
pub async fn find_by_phone(
    conn: &impl ConnectionTrait,
    org: OrgId,
    phone: &str,
) -> Result<Vec<Tenant>, StoreError> {
    Ok(tenant::Entity::find()
        .filter(tenant::Column::OrganizationId.eq(org))
        .filter(tenant::Column::Phone.eq(phone))
        .all(conn)
        .await?)
}

pub async fn list(
    conn: &impl ConnectionTrait,
    org: OrgId,
    page: Page,
) -> Result<Paged<Tenant>, StoreError> {
    let select = tenant::Entity::find()
        .filter(tenant::Column::OrganizationId.eq(org))
        .order_by_asc(tenant::Column::Id);
    fetch(conn, select, page).await
}
