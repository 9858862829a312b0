//! What bulk operations select: many units, accounts or meters of one organization at once.
//!
//! Selecting by ids is all or nothing: when any id is unknown or another organization's, the
//! answer is [`StoreError::NotFound`] (the caller answers 404 and changes nothing), never a
//! partial list.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use crate::entity::{account, building, meter, unit};
use crate::scope::Scope;
use crate::{
    Account, AccountId, AccountStatus, BuildingId, Meter, MeterId, SiteId, StoreError, UnitId,
};

/// The most rows one bulk request may name.
pub const MAX_IDS: usize = 1000;

fn all_found<T, I: PartialEq>(
    ids: &[I],
    found: Vec<T>,
    id: impl Fn(&T) -> I,
) -> Result<Vec<T>, StoreError> {
    if ids.iter().all(|want| found.iter().any(|f| id(f) == *want)) {
        // In the order asked for.
        let mut out = Vec::with_capacity(ids.len());
        let mut found = found;
        for want in ids {
            if let Some(pos) = found.iter().position(|f| id(f) == *want) {
                out.push(found.swap_remove(pos));
            }
        }
        Ok(out)
    } else {
        Err(StoreError::NotFound)
    }
}

/// The units with these ids, all in `scope` (else `NotFound`).
pub async fn units(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    ids: &[UnitId],
) -> Result<Vec<UnitId>, StoreError> {
    let scope: Scope = scope.into();
    let found: Vec<UnitId> = unit::Entity::find()
        .select_only()
        .column(unit::Column::Id)
        .filter(scope.condition::<unit::Entity>())
        .filter(unit::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(conn)
        .await?;
    all_found(ids, found, |u| *u)
}

/// The units of a site or a building in `scope`.
pub async fn units_in(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    site: Option<SiteId>,
    building_id: Option<BuildingId>,
) -> Result<Vec<UnitId>, StoreError> {
    let scope: Scope = scope.into();
    let mut select = unit::Entity::find()
        .select_only()
        .column(unit::Column::Id)
        .filter(scope.condition::<unit::Entity>());
    if let Some(b) = building_id {
        select = select.filter(unit::Column::BuildingId.eq(b));
    }
    if let Some(site) = site {
        select = select.filter(
            unit::Column::BuildingId.in_subquery(
                building::Entity::find()
                    .select_only()
                    .column(building::Column::Id)
                    .filter(scope.condition::<building::Entity>())
                    .filter(building::Column::SiteId.eq(site))
                    .into_query(),
            ),
        );
    }
    Ok(select
        .order_by_asc(unit::Column::Id)
        .into_tuple()
        .all(conn)
        .await?)
}

/// The open accounts of these units.
pub async fn open_accounts_of_units(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    units: &[UnitId],
) -> Result<Vec<Account>, StoreError> {
    let scope: Scope = scope.into();
    Ok(account::Entity::find()
        .filter(scope.condition::<account::Entity>())
        .filter(account::Column::Status.eq(AccountStatus::Open))
        .filter(account::Column::UnitId.is_in(units.iter().copied()))
        .order_by_asc(account::Column::Id)
        .all(conn)
        .await?)
}

/// The accounts with these ids, all in `scope` (else `NotFound`).
pub async fn accounts(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    ids: &[AccountId],
) -> Result<Vec<Account>, StoreError> {
    let scope: Scope = scope.into();
    let found = account::Entity::find()
        .filter(scope.condition::<account::Entity>())
        .filter(account::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    all_found(ids, found, |a| a.id)
}

/// The meters with these ids, all in `scope` (else `NotFound`).
pub async fn meters(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    ids: &[MeterId],
) -> Result<Vec<Meter>, StoreError> {
    let scope: Scope = scope.into();
    let found = meter::Entity::find()
        .filter(scope.condition::<meter::Entity>())
        .filter(meter::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    all_found(ids, found, |m| m.id)
}

/// The meters of these units.
pub async fn meters_of_units(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    units: &[UnitId],
) -> Result<Vec<Meter>, StoreError> {
    let scope: Scope = scope.into();
    Ok(meter::Entity::find()
        .filter(scope.condition::<meter::Entity>())
        .filter(meter::Column::UnitId.is_in(units.iter().copied()))
        .order_by_asc(meter::Column::Id)
        .all(conn)
        .await?)
}

/// Everything an import resolves names against: the organization's sites, buildings, units,
/// tenants' phones, gateways and meters (ids and names only).
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub sites: Vec<crate::Site>,
    pub buildings: Vec<crate::Building>,
    pub units: Vec<crate::Unit>,
    pub tenant_phones: Vec<String>,
    pub gateways: Vec<crate::Gateway>,
    /// `(gateway, wire id)` of every meter.
    pub meters: Vec<(crate::GatewayId, String)>,
}

/// Loads the [`Directory`] of `scope` (meters' wire ids of the whole organization, so a
/// duplicate is caught wherever it is).
pub async fn directory(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
) -> Result<Directory, StoreError> {
    use crate::entity::{gateway, site, tenant};
    let scope: Scope = scope.into();
    Ok(Directory {
        sites: site::Entity::find()
            .filter(scope.condition::<site::Entity>())
            .all(conn)
            .await?,
        buildings: building::Entity::find()
            .filter(scope.condition::<building::Entity>())
            .all(conn)
            .await?,
        units: unit::Entity::find()
            .filter(scope.condition::<unit::Entity>())
            .all(conn)
            .await?,
        tenant_phones: tenant::Entity::find()
            .select_only()
            .column(tenant::Column::Phone)
            .filter(tenant::Column::OrganizationId.eq(scope.org))
            .filter(tenant::Column::Phone.is_not_null())
            .into_tuple::<Option<String>>()
            .all(conn)
            .await?
            .into_iter()
            .flatten()
            .collect(),
        gateways: gateway::Entity::find()
            .filter(scope.condition::<gateway::Entity>())
            .all(conn)
            .await?,
        meters: meter::Entity::find()
            .select_only()
            .column(meter::Column::GatewayId)
            .column(meter::Column::WireId)
            .filter(meter::Column::OrganizationId.eq(scope.org))
            .into_tuple()
            .all(conn)
            .await?,
    })
}
