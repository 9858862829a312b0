//! Sites (properties: compounds, malls, parks) with their charge-control defaults.

use chrono::Utc;
use domain::Money;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::site;
use crate::money::to_fen;
use crate::page::{fetch, Page, Paged};
use crate::{OrgId, Site, SiteId, StoreError};

/// The site's IANA time zone unless told otherwise.
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

#[derive(Clone, Debug)]
pub struct NewSite {
    pub name: String,
    /// IANA zone name; `None` means [`DEFAULT_TIMEZONE`].
    pub timezone: Option<String>,
    pub address: String,
    pub alarm_threshold: Money,
    pub trip_threshold: Money,
}

impl NewSite {
    /// A site with the usual defaults: alarm at ¥20, trip at ¥0.
    pub fn named(name: impl Into<String>) -> Self {
        NewSite {
            name: name.into(),
            timezone: None,
            address: String::new(),
            alarm_threshold: Money::from_fen(2000),
            trip_threshold: Money::ZERO,
        }
    }
}

pub async fn create(
    conn: &impl ConnectionTrait,
    org: OrgId,
    new: NewSite,
) -> Result<Site, StoreError> {
    Ok(site::ActiveModel {
        id: Set(SiteId::new()),
        organization_id: Set(org),
        name: Set(new.name),
        timezone: Set(new.timezone.unwrap_or_else(|| DEFAULT_TIMEZONE.to_owned())),
        address: Set(new.address),
        alarm_threshold_fen: Set(to_fen(new.alarm_threshold)?),
        trip_threshold_fen: Set(to_fen(new.trip_threshold)?),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await?)
}

pub async fn get(conn: &impl ConnectionTrait, org: OrgId, id: SiteId) -> Result<Site, StoreError> {
    site::Entity::find_by_id(id)
        .filter(site::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn list(
    conn: &impl ConnectionTrait,
    org: OrgId,
    page: Page,
) -> Result<Paged<Site>, StoreError> {
    let select = site::Entity::find()
        .filter(site::Column::OrganizationId.eq(org))
        .order_by_asc(site::Column::Id);
    fetch(conn, select, page).await
}

impl Site {
    pub fn alarm_threshold(&self) -> Money {
        Money::from_fen(self.alarm_threshold_fen)
    }

    pub fn trip_threshold(&self) -> Money {
        Money::from_fen(self.trip_threshold_fen)
    }
}
