//! Charge-control settings at three levels — organization, site, account — and the one place
//! that resolves what is in force for an account: each value comes from the account if it says
//! so, else its site, else the organization, else the defaults (the site row's legacy
//! thresholds, then the deployment's trip windows and restore SLA).
//!
//! An account's own thresholds live in `accounts` (where `PATCH /accounts/{id}` writes them);
//! everything else of a level lives in `control_settings`, one row per level, `NULL` meaning
//! "inherit". The worker, the command routes and the counter desk all resolve through
//! [`effective_for_account`], so they never disagree about a threshold.

use chrono::{TimeDelta, Utc};
use domain::{ControlSettings, HolidayCalendar, Money, TripWindows};
use sea_orm::sea_query::{Condition, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use uuid::Uuid;

use crate::entity::{account, building, control_setting, site, unit};
use crate::money::to_fen;
use crate::{Account, AccountId, OrgId, Site, SiteId, StoreError};

/// Which level a setting belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Organization,
    Site(SiteId),
    Account(AccountId),
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Organization => "organization",
            Scope::Site(_) => "site",
            Scope::Account(_) => "account",
        }
    }

    fn id(self, org: OrgId) -> Uuid {
        match self {
            Scope::Organization => org.into(),
            Scope::Site(s) => s.into(),
            Scope::Account(a) => a.into(),
        }
    }
}

/// Where an effective value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Account,
    Site,
    Organization,
    Default,
}

/// One level's own values; `None` inherits from the level above.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub alarm_threshold: Option<Money>,
    /// May be negative: an overdraft allowance (透支).
    pub trip_threshold: Option<Money>,
    pub trip_windows: Option<TripWindows>,
    pub restore_sla: Option<TimeDelta>,
}

/// What applies when no level says otherwise (the worker passes its configured ones).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Defaults {
    pub trip_windows: TripWindows,
    pub restore_sla: TimeDelta,
}

impl Default for Defaults {
    /// The worker's own defaults: working hours, five minutes.
    fn default() -> Self {
        Defaults {
            trip_windows: TripWindows::working_hours(),
            restore_sla: TimeDelta::minutes(5),
        }
    }
}

/// A value in force and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

/// The settings in force for an account (or a site's accounts without their own values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub alarm_threshold: Sourced<Money>,
    pub trip_threshold: Sourced<Money>,
    pub trip_windows: Sourced<TripWindows>,
    pub restore_sla: Sourced<TimeDelta>,
}

impl Effective {
    /// The domain settings the state machine steps with.
    pub fn to_domain(&self, protected: bool) -> ControlSettings {
        ControlSettings {
            alarm_threshold: self.alarm_threshold.value,
            trip_threshold: self.trip_threshold.value,
            protected,
            trip_windows: self.trip_windows.value.clone(),
            holidays: HolidayCalendar::default(),
            restore_sla: self.restore_sla.value,
        }
    }
}

fn decode(row: &control_setting::Model) -> Result<Overrides, StoreError> {
    let trip_windows = row
        .trip_windows
        .as_deref()
        .map(serde_json::from_str::<TripWindows>)
        .transpose()
        .map_err(|e| StoreError::Invalid(format!("trip windows: {e}")))?;
    Ok(Overrides {
        alarm_threshold: row.alarm_threshold_fen.map(Money::from_fen),
        trip_threshold: row.trip_threshold_fen.map(Money::from_fen),
        trip_windows,
        restore_sla: row.restore_sla_secs.map(TimeDelta::seconds),
    })
}

/// The rows of the given levels, one query.
async fn rows(
    conn: &impl ConnectionTrait,
    org: OrgId,
    scopes: &[Scope],
) -> Result<Vec<(Scope, Overrides)>, StoreError> {
    let mut any = Condition::any();
    for s in scopes {
        any = any.add(
            Condition::all()
                .add(control_setting::Column::Scope.eq(s.name()))
                .add(control_setting::Column::ScopeId.eq(s.id(org))),
        );
    }
    let found = control_setting::Entity::find()
        .filter(control_setting::Column::OrganizationId.eq(org))
        .filter(any)
        .all(conn)
        .await?;
    let mut out = Vec::new();
    for s in scopes {
        if let Some(row) = found
            .iter()
            .find(|r| r.scope == s.name() && r.scope_id == s.id(org))
        {
            out.push((*s, decode(row)?));
        }
    }
    Ok(out)
}

/// A level's own values (for an account, its thresholds from the account row). The caller has
/// checked that the site or account belongs to `org`.
pub async fn own(
    conn: &impl ConnectionTrait,
    org: OrgId,
    scope: Scope,
) -> Result<Overrides, StoreError> {
    let mut own = rows(conn, org, &[scope])
        .await?
        .pop()
        .map(|(_, o)| o)
        .unwrap_or_default();
    if let Scope::Account(id) = scope {
        let a = crate::account::get(conn, org, id).await?;
        own.alarm_threshold = a.alarm_threshold();
        own.trip_threshold = a.trip_threshold();
    }
    Ok(own)
}

/// Replaces a level's own values (all of them: `None` inherits). The caller has checked that the
/// site or account belongs to `org`, and writes the outbox and audit rows.
pub async fn put(
    conn: &impl ConnectionTrait,
    org: OrgId,
    scope: Scope,
    values: &Overrides,
) -> Result<(), StoreError> {
    let mut row = control_setting::ActiveModel {
        organization_id: Set(org),
        scope: Set(scope.name().to_owned()),
        scope_id: Set(scope.id(org)),
        alarm_threshold_fen: Set(values.alarm_threshold.map(to_fen).transpose()?),
        trip_threshold_fen: Set(values.trip_threshold.map(to_fen).transpose()?),
        trip_windows: Set(values
            .trip_windows
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Invalid(format!("trip windows: {e}")))?),
        restore_sla_secs: Set(values.restore_sla.map(|d| d.num_seconds())),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    if let Scope::Account(id) = scope {
        // The account's thresholds have one home: the account row.
        let res = account::Entity::update_many()
            .col_expr(
                account::Column::AlarmThresholdFen,
                sea_orm::sea_query::Expr::value(values.alarm_threshold.map(to_fen).transpose()?),
            )
            .col_expr(
                account::Column::TripThresholdFen,
                sea_orm::sea_query::Expr::value(values.trip_threshold.map(to_fen).transpose()?),
            )
            .filter(account::Column::Id.eq(id))
            .filter(account::Column::OrganizationId.eq(org))
            .exec(conn)
            .await?;
        if res.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        row.alarm_threshold_fen = Set(None);
        row.trip_threshold_fen = Set(None);
    }
    control_setting::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                control_setting::Column::OrganizationId,
                control_setting::Column::Scope,
                control_setting::Column::ScopeId,
            ])
            .update_columns([
                control_setting::Column::AlarmThresholdFen,
                control_setting::Column::TripThresholdFen,
                control_setting::Column::TripWindows,
                control_setting::Column::RestoreSlaSecs,
                control_setting::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Sets only a site's own thresholds, keeping its other values (`PATCH /sites/{id}` and site
/// creation with explicit thresholds write through here, so they stay above the organization's).
pub async fn set_site_thresholds(
    conn: &impl ConnectionTrait,
    org: OrgId,
    site: SiteId,
    alarm: Option<Money>,
    trip: Option<Money>,
) -> Result<(), StoreError> {
    let mut values = own(conn, org, Scope::Site(site)).await?;
    if alarm.is_some() {
        values.alarm_threshold = alarm;
    }
    if trip.is_some() {
        values.trip_threshold = trip;
    }
    put(conn, org, Scope::Site(site), &values).await
}

fn pick<T: Clone>(levels: &[(Source, Option<T>)], fallback: T) -> Sourced<T> {
    levels
        .iter()
        .find_map(|(source, v)| {
            v.clone().map(|value| Sourced {
                value,
                source: *source,
            })
        })
        .unwrap_or(Sourced {
            value: fallback,
            source: Source::Default,
        })
}

fn resolve(
    account: Option<&Overrides>,
    site_own: Option<&Overrides>,
    org_own: Option<&Overrides>,
    site: &Site,
    defaults: &Defaults,
) -> Effective {
    let levels = |f: &dyn Fn(&Overrides) -> Option<Money>| {
        [
            (Source::Account, account.and_then(f)),
            (Source::Site, site_own.and_then(f)),
            (Source::Organization, org_own.and_then(f)),
        ]
    };
    let windows = [
        (
            Source::Account,
            account.and_then(|o| o.trip_windows.clone()),
        ),
        (Source::Site, site_own.and_then(|o| o.trip_windows.clone())),
        (
            Source::Organization,
            org_own.and_then(|o| o.trip_windows.clone()),
        ),
    ];
    let sla = [
        (Source::Account, account.and_then(|o| o.restore_sla)),
        (Source::Site, site_own.and_then(|o| o.restore_sla)),
        (Source::Organization, org_own.and_then(|o| o.restore_sla)),
    ];
    Effective {
        alarm_threshold: pick(&levels(&|o| o.alarm_threshold), site.alarm_threshold()),
        trip_threshold: pick(&levels(&|o| o.trip_threshold), site.trip_threshold()),
        trip_windows: pick(&windows, defaults.trip_windows.clone()),
        restore_sla: pick(&sla, defaults.restore_sla),
    }
}

/// The site an account's unit is in.
pub async fn site_of_account(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: &Account,
) -> Result<Site, StoreError> {
    let unit = unit::Entity::find_by_id(account.unit_id)
        .filter(unit::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let building = building::Entity::find_by_id(unit.building_id)
        .filter(building::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    site::Entity::find_by_id(building.site_id)
        .filter(site::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// The settings in force for an account of `site` (one query for the three levels' rows).
pub async fn effective_in_site(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: &Account,
    site: &Site,
    defaults: &Defaults,
) -> Result<Effective, StoreError> {
    let found = rows(
        conn,
        org,
        &[
            Scope::Organization,
            Scope::Site(site.id),
            Scope::Account(account.id),
        ],
    )
    .await?;
    let of = |want: fn(&Scope) -> bool| found.iter().find(|(s, _)| want(s)).map(|(_, o)| o);
    let mut own = of(|s| matches!(s, Scope::Account(_)))
        .cloned()
        .unwrap_or_default();
    own.alarm_threshold = account.alarm_threshold();
    own.trip_threshold = account.trip_threshold();
    Ok(resolve(
        Some(&own),
        of(|s| matches!(s, Scope::Site(_))),
        of(|s| matches!(s, Scope::Organization)),
        site,
        defaults,
    ))
}

/// The settings in force for an account.
pub async fn effective_for_account(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: &Account,
    defaults: &Defaults,
) -> Result<Effective, StoreError> {
    let site = site_of_account(conn, org, account).await?;
    effective_in_site(conn, org, account, &site, defaults).await
}

/// The settings in force for a site's accounts that have no values of their own.
pub async fn effective_for_site(
    conn: &impl ConnectionTrait,
    org: OrgId,
    site: &Site,
    defaults: &Defaults,
) -> Result<Effective, StoreError> {
    let found = rows(conn, org, &[Scope::Organization, Scope::Site(site.id)]).await?;
    let of = |want: fn(&Scope) -> bool| found.iter().find(|(s, _)| want(s)).map(|(_, o)| o);
    Ok(resolve(
        None,
        of(|s| matches!(s, Scope::Site(_))),
        of(|s| matches!(s, Scope::Organization)),
        site,
        defaults,
    ))
}

/// The organization's level on its own, over the built-in defaults (thresholds ¥20 / ¥0).
pub async fn effective_for_organization(
    conn: &impl ConnectionTrait,
    org: OrgId,
    defaults: &Defaults,
) -> Result<Effective, StoreError> {
    let found = rows(conn, org, &[Scope::Organization]).await?;
    let own = found.first().map(|(_, o)| o);
    let placeholder = Site {
        id: SiteId::new(),
        organization_id: org,
        name: String::new(),
        timezone: String::new(),
        address: String::new(),
        alarm_threshold_fen: 2000,
        trip_threshold_fen: 0,
        created_at: Utc::now(),
    };
    Ok(resolve(None, None, own, &placeholder, defaults))
}

/// The open accounts a change at `scope` reaches (all of the organization's, a site's, or one),
/// so the caller can tell the worker to settle each against the new values.
pub async fn open_accounts_under(
    conn: &impl ConnectionTrait,
    org: OrgId,
    scope: Scope,
) -> Result<Vec<AccountId>, StoreError> {
    use sea_orm::QuerySelect;
    let mut select = account::Entity::find()
        .filter(account::Column::OrganizationId.eq(org))
        .filter(account::Column::Status.eq(crate::AccountStatus::Open));
    match scope {
        Scope::Organization => {}
        Scope::Account(id) => select = select.filter(account::Column::Id.eq(id)),
        Scope::Site(site) => {
            let units = unit::Entity::find()
                .select_only()
                .column(unit::Column::Id)
                .filter(unit::Column::OrganizationId.eq(org))
                .filter(
                    unit::Column::BuildingId.in_subquery(sea_orm::QueryTrait::into_query(
                        building::Entity::find()
                            .select_only()
                            .column(building::Column::Id)
                            .filter(building::Column::OrganizationId.eq(org))
                            .filter(building::Column::SiteId.eq(site)),
                    )),
                );
            select = select.filter(
                account::Column::UnitId.in_subquery(sea_orm::QueryTrait::into_query(units)),
            );
        }
    }
    Ok(select
        .select_only()
        .column(account::Column::Id)
        .into_tuple()
        .all(conn)
        .await?)
}
