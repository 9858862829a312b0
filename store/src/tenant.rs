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
    list_filtered(conn, org, &TenantFilter::default(), page).await
}

/// List filters; `None` fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct TenantFilter {
    /// Part of the name.
    pub name: Option<String>,
    /// The exact phone number.
    pub phone: Option<String>,
}

pub async fn list_filtered(
    conn: &impl ConnectionTrait,
    org: OrgId,
    filter: &TenantFilter,
    page: Page,
) -> Result<Paged<Tenant>, StoreError> {
    let mut select = tenant::Entity::find().filter(tenant::Column::OrganizationId.eq(org));
    if let Some(name) = &filter.name {
        select = select.filter(tenant::Column::Name.contains(name));
    }
    if let Some(phone) = &filter.phone {
        select = select.filter(tenant::Column::Phone.eq(phone.as_str()));
    }
    fetch(conn, select.order_by_asc(tenant::Column::Id), page).await
}

/// Changes a tenant's name or phone (`Some(None)` clears the phone).
pub async fn update(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: TenantId,
    name: Option<String>,
    phone: Option<Option<String>>,
) -> Result<Tenant, StoreError> {
    let mut row: tenant::ActiveModel = get(conn, org, id).await?.into();
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(phone) = phone {
        row.phone = Set(phone);
    }
    Ok(row.update(conn).await?)
}

/// Deletes a tenant of the organization; a database error while accounts refer to them.
pub async fn delete(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: TenantId,
) -> Result<(), StoreError> {
    let res = tenant::Entity::delete_many()
        .filter(tenant::Column::Id.eq(id))
        .filter(tenant::Column::OrganizationId.eq(org))
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}
