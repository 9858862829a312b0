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
use crate::{site, Gateway, GatewayId, OrgId, SiteId, StoreError};

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
    org: OrgId,
    new: NewGateway,
) -> Result<Gateway, StoreError> {
    if !is_valid_wire_id(&new.gateway_id) {
        return Err(StoreError::Invalid(format!(
            "gateway id `{}` is not gw- followed by lowercase letters and digits",
            new.gateway_id
        )));
    }
    site::get(conn, org, new.site_id).await?;
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
    org: OrgId,
    id: GatewayId,
) -> Result<Gateway, StoreError> {
    gateway::Entity::find_by_id(id)
        .filter(gateway::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn list(
    conn: &impl ConnectionTrait,
    org: OrgId,
    page: Page,
) -> Result<Paged<Gateway>, StoreError> {
    let select = gateway::Entity::find()
        .filter(gateway::Column::OrganizationId.eq(org))
        .order_by_asc(gateway::Column::Id);
    fetch(conn, select, page).await
}
