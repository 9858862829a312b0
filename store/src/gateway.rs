//! Gateways (a DTU plus the agent at a building). The wire id `gw-...` is globally unique
//! because it is the MQTT username; lookups by wire id for incoming MQTT traffic are in
//! [`crate::unscoped`].

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::gateway;
use crate::error::map_unique;
use crate::page::{fetch, Page, Paged};
use crate::scope::Scope;
use crate::{site, Gateway, GatewayId, SiteId, StoreError};

#[derive(Clone, Debug)]
pub struct NewGateway {
    pub site_id: SiteId,
    /// `gw-` and lowercase letters and digits.
    pub gateway_id: String,
    pub name: String,
    pub mqtt_password_hash: Option<String>,
}

/// Whether `id` is a valid gateway wire id: `gw-` then lowercase letters and digits.
pub fn is_valid_wire_id(id: &str) -> bool {
    id.strip_prefix("gw-").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 60
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

pub async fn create(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    new: NewGateway,
) -> Result<Gateway, StoreError> {
    let scope = scope.into();
    let org = scope.org;
    if !is_valid_wire_id(&new.gateway_id) {
        return Err(StoreError::Invalid(format!(
            "gateway id `{}` is not gw- followed by lowercase letters and digits",
            new.gateway_id
        )));
    }
    site::get(conn, scope, new.site_id).await?;
    gateway::ActiveModel {
        id: Set(GatewayId::new()),
        organization_id: Set(org),
        site_id: Set(new.site_id),
        gateway_id: Set(new.gateway_id),
        name: Set(new.name),
        mqtt_password_hash: Set(new.mqtt_password_hash),
        config_version: Set(0),
        last_seen_at: Set(None),
        online: Set(false),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await
    .map_err(map_unique)
}

pub async fn get(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: GatewayId,
) -> Result<Gateway, StoreError> {
    let scope = scope.into();
    gateway::Entity::find_by_id(id)
        .filter(scope.condition::<gateway::Entity>())
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn list(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    page: Page,
) -> Result<Paged<Gateway>, StoreError> {
    let scope = scope.into();
    list_filtered(conn, scope, None, None, page).await
}

/// Gateways of the organization, of one site and/or online state when given.
pub async fn list_filtered(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    site_id: Option<SiteId>,
    online: Option<bool>,
    page: Page,
) -> Result<Paged<Gateway>, StoreError> {
    let scope = scope.into();
    let mut select = gateway::Entity::find().filter(scope.condition::<gateway::Entity>());
    if let Some(site_id) = site_id {
        select = select.filter(gateway::Column::SiteId.eq(site_id));
    }
    if let Some(online) = online {
        select = select.filter(gateway::Column::Online.eq(online));
    }
    fetch(conn, select.order_by_asc(gateway::Column::Id), page).await
}

/// Renames a gateway or moves it to another site of the organization.
pub async fn update(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: GatewayId,
    name: Option<String>,
    site_id: Option<SiteId>,
) -> Result<Gateway, StoreError> {
    let scope = scope.into();
    let mut row: gateway::ActiveModel = get(conn, scope, id).await?.into();
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(site_id) = site_id {
        site::get(conn, scope, site_id).await?;
        row.site_id = Set(site_id);
    }
    Ok(row.update(conn).await?)
}

/// Replaces the stored MQTT password hash (a new password was issued).
pub async fn set_password_hash(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: GatewayId,
    hash: String,
) -> Result<Gateway, StoreError> {
    let scope = scope.into();
    let mut row: gateway::ActiveModel = get(conn, scope, id).await?.into();
    row.mqtt_password_hash = Set(Some(hash));
    Ok(row.update(conn).await?)
}

/// Deletes a gateway of the organization; a database error while meters remain on it.
pub async fn delete(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: GatewayId,
) -> Result<(), StoreError> {
    let scope = scope.into();
    let res = gateway::Entity::delete_many()
        .filter(gateway::Column::Id.eq(id))
        .filter(scope.condition::<gateway::Entity>())
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}
