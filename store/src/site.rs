//! Sites (properties: compounds, malls, parks) with their charge-control defaults.

use chrono::Utc;
use domain::Money;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::site;
use crate::money::to_fen;
use crate::page::{fetch, Page, Paged};
use crate::scope::Scope;
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

pub async fn get(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: SiteId,
) -> Result<Site, StoreError> {
    site::Entity::find_by_id(id)
        .filter(scope.into().condition::<site::Entity>())
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn list(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    page: Page,
) -> Result<Paged<Site>, StoreError> {
    list_filtered(conn, scope, &SiteFilter::default(), page).await
}

/// List filters; `None` fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct SiteFilter {
    /// Part of the name.
    pub name: Option<String>,
}

/// Sites of the organization matching `filter`, oldest first.
pub async fn list_filtered(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    filter: &SiteFilter,
    page: Page,
) -> Result<Paged<Site>, StoreError> {
    let mut select = site::Entity::find().filter(scope.into().condition::<site::Entity>());
    if let Some(name) = &filter.name {
        select = select.filter(site::Column::Name.contains(name));
    }
    fetch(conn, select.order_by_asc(site::Column::Id), page).await
}

/// Changes to a site; `None` fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct SiteChanges {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub address: Option<String>,
    pub alarm_threshold: Option<Money>,
    pub trip_threshold: Option<Money>,
}

/// Updates a site of the organization (another org's is `NotFound`).
pub async fn update(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: SiteId,
    changes: SiteChanges,
) -> Result<Site, StoreError> {
    let scope = scope.into();
    let org = scope.org;
    let mut row: site::ActiveModel = get(conn, scope, id).await?.into();
    if let Some(name) = changes.name {
        row.name = Set(name);
    }
    if let Some(timezone) = changes.timezone {
        row.timezone = Set(timezone);
    }
    if let Some(address) = changes.address {
        row.address = Set(address);
    }
    if let Some(alarm) = changes.alarm_threshold {
        row.alarm_threshold_fen = Set(to_fen(alarm)?);
    }
    if let Some(trip) = changes.trip_threshold {
        row.trip_threshold_fen = Set(to_fen(trip)?);
    }
    if changes.alarm_threshold.is_some() || changes.trip_threshold.is_some() {
        // Thresholds set on the site itself stay above the organization's settings.
        crate::control_settings::set_site_thresholds(
            conn,
            org,
            id,
            changes.alarm_threshold,
            changes.trip_threshold,
        )
        .await?;
    }
    Ok(row.update(conn).await?)
}

/// Deletes a site of the organization; a database error when buildings or gateways remain.
pub async fn delete(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: SiteId,
) -> Result<(), StoreError> {
    let res = site::Entity::delete_many()
        .filter(site::Column::Id.eq(id))
        .filter(scope.into().condition::<site::Entity>())
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

impl Site {
    pub fn alarm_threshold(&self) -> Money {
        Money::from_fen(self.alarm_threshold_fen)
    }

    pub fn trip_threshold(&self) -> Money {
        Money::from_fen(self.trip_threshold_fen)
    }
}
