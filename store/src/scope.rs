//! [`Scope`]: whose rows a query may touch.
//!
//! Every organization-owned query is scoped to one organization. Staff whose membership is
//! limited to some sites (`memberships.site_limited`) are scoped further: they see and change only
//! the rows under those sites, and anything else is [`crate::StoreError::NotFound`], exactly like
//! another organization's row. Repository functions take `scope: impl Into<Scope>`, so callers
//! acting for the whole organization (the worker, schedules) keep passing an [`OrgId`], and the
//! API passes the caller's scope.
//!
//! The site set is read from `membership_sites` inside the query (a subquery), so a change to a
//! member's sites applies to their next request. Each scoped entity says once, in [`Scoped`], how
//! its rows hang under a site: sites by id; buildings and gateways by `site_id`; units through
//! their building; accounts through their unit; meters through their gateway; ledger entries,
//! payment orders and the rest through their account or meter.

use sea_orm::sea_query::{Condition, Query, SelectStatement, SimpleExpr};
use sea_orm::{ColumnTrait, EntityTrait};

use crate::entity::{
    account, building, command, gateway, ledger_entry, membership_site, meter, site, unit,
    work_order,
};
use crate::{OrgId, UserId};

/// One organization, optionally narrowed to the sites of a site-limited member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    pub org: OrgId,
    /// The member whose `membership_sites` limit the rows; `None` for the whole organization.
    pub sites_of: Option<UserId>,
}

impl From<OrgId> for Scope {
    fn from(org: OrgId) -> Self {
        Scope::org(org)
    }
}

impl Scope {
    /// The whole organization.
    pub fn org(org: OrgId) -> Self {
        Scope {
            org,
            sites_of: None,
        }
    }

    /// Only the rows under the sites `user` is limited to in `org`.
    pub fn sites_of(org: OrgId, user: UserId) -> Self {
        Scope {
            org,
            sites_of: Some(user),
        }
    }

    /// Whether the scope covers every site of the organization.
    pub fn is_whole_org(&self) -> bool {
        self.sites_of.is_none()
    }

    /// The condition selecting the rows of `E` in this scope.
    pub fn condition<E: Scoped>(&self) -> Condition {
        let cond = Condition::all().add(E::org_column().eq(self.org));
        match self.sites_of {
            None => cond,
            Some(user) => cond.add(E::under_sites(self.site_ids(user))),
        }
    }

    /// `SELECT site_id FROM membership_sites WHERE user_id = .. AND organization_id = ..`.
    fn site_ids(&self, user: UserId) -> SelectStatement {
        Query::select()
            .column(membership_site::Column::SiteId)
            .from(membership_site::Entity)
            .and_where(membership_site::Column::UserId.eq(user))
            .and_where(membership_site::Column::OrganizationId.eq(self.org))
            .to_owned()
    }
}

/// An organization-owned entity whose rows hang under a site.
pub trait Scoped: EntityTrait {
    /// Its `organization_id` column.
    fn org_column() -> Self::Column;
    /// The condition "this row is under one of `sites`" (a subquery of site ids).
    fn under_sites(sites: SelectStatement) -> SimpleExpr;
}

fn ids_where<E: EntityTrait>(
    id: E::Column,
    col: E::Column,
    set: SelectStatement,
) -> SelectStatement {
    Query::select()
        .column(id)
        .from(E::default())
        .and_where(col.in_subquery(set))
        .to_owned()
}

fn units_under(sites: SelectStatement) -> SelectStatement {
    let buildings =
        ids_where::<building::Entity>(building::Column::Id, building::Column::SiteId, sites);
    ids_where::<unit::Entity>(unit::Column::Id, unit::Column::BuildingId, buildings)
}

/// Ids of the accounts under `sites`.
fn accounts_under(sites: SelectStatement) -> SelectStatement {
    ids_where::<account::Entity>(
        account::Column::Id,
        account::Column::UnitId,
        units_under(sites),
    )
}

/// Ids of the meters under `sites` (a meter is where its gateway is).
fn meters_under(sites: SelectStatement) -> SelectStatement {
    let gateways =
        ids_where::<gateway::Entity>(gateway::Column::Id, gateway::Column::SiteId, sites);
    ids_where::<meter::Entity>(meter::Column::Id, meter::Column::GatewayId, gateways)
}

macro_rules! scoped {
    ($entity:ident, |$sites:ident| $body:expr) => {
        impl Scoped for $entity::Entity {
            fn org_column() -> Self::Column {
                $entity::Column::OrganizationId
            }
            fn under_sites($sites: SelectStatement) -> SimpleExpr {
                $body
            }
        }
    };
}

scoped!(site, |sites| site::Column::Id.in_subquery(sites));
scoped!(building, |sites| building::Column::SiteId
    .in_subquery(sites));
scoped!(gateway, |sites| gateway::Column::SiteId.in_subquery(sites));
scoped!(unit, |sites| {
    let buildings =
        ids_where::<building::Entity>(building::Column::Id, building::Column::SiteId, sites);
    unit::Column::BuildingId.in_subquery(buildings)
});
scoped!(account, |sites| account::Column::UnitId
    .in_subquery(units_under(sites)));
scoped!(meter, |sites| {
    let gateways =
        ids_where::<gateway::Entity>(gateway::Column::Id, gateway::Column::SiteId, sites);
    meter::Column::GatewayId.in_subquery(gateways)
});
scoped!(ledger_entry, |sites| ledger_entry::Column::AccountId
    .in_subquery(accounts_under(sites)));
scoped!(command, |sites| command::Column::MeterId
    .in_subquery(meters_under(sites)));
scoped!(work_order, |sites| {
    // A work order is under a site through its account, meter or gateway.
    let gateways =
        ids_where::<gateway::Entity>(gateway::Column::Id, gateway::Column::SiteId, sites.clone());
    Condition::any()
        .add(work_order::Column::AccountId.in_subquery(accounts_under(sites.clone())))
        .add(work_order::Column::MeterId.in_subquery(meters_under(sites)))
        .add(work_order::Column::GatewayId.in_subquery(gateways))
        .into()
});

impl Scoped for crate::counter::receipt::Entity {
    fn org_column() -> Self::Column {
        crate::counter::receipt::Column::OrganizationId
    }
    fn under_sites(sites: SelectStatement) -> SimpleExpr {
        crate::counter::receipt::Column::AccountId.in_subquery(accounts_under(sites))
    }
}

impl Scoped for crate::payment::order::Entity {
    fn org_column() -> Self::Column {
        crate::payment::order::Column::OrganizationId
    }
    fn under_sites(sites: SelectStatement) -> SimpleExpr {
        crate::payment::order::Column::AccountId.in_subquery(accounts_under(sites))
    }
}

/// Ids of the accounts in `scope` (for tables that reference an account and are not [`Scoped`]
/// themselves): `None` for a whole-organization scope.
pub fn account_ids(scope: Scope) -> Option<SelectStatement> {
    scope.sites_of.map(|user| {
        let sites = scope.site_ids(user);
        accounts_under(sites)
    })
}

/// Ids of the meters in `scope`, as [`account_ids`].
pub fn meter_ids(scope: Scope) -> Option<SelectStatement> {
    scope
        .sites_of
        .map(|user| meters_under(scope.site_ids(user)))
}

/// Ids of the sites in `scope`, as [`account_ids`].
pub fn site_ids(scope: Scope) -> Option<SelectStatement> {
    scope.sites_of.map(|user| scope.site_ids(user))
}
