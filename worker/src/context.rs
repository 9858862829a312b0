//! What the worker looks up around a message: the gateway of a wire id with its meters (cached
//! briefly, refreshed on a miss or a config change), and meters' rating contexts (account,
//! tariff versions, site time zone, thresholds), loaded for many meters in a few set queries
//! and cached for charged meters (see [`ContextCache`] for what invalidates an entry).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use domain::{Money, TariffVersion, TariffVersions};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use store::entity::{account, gateway, meter, site, tariff_version};
use store::{
    Account, AccountId, AccountStatus, GatewayId, Meter, MeterId, OrgId, SiteId, StoreError,
    TariffId, UnitId,
};

/// How long a cached gateway is trusted before it is read again.
const GATEWAY_TTL_SECS: i64 = 30;

/// A gateway and the wire ids of its meters.
#[derive(Clone, Debug)]
pub struct GatewayEntry {
    pub org: OrgId,
    pub id: GatewayId,
    pub wire_id: String,
    pub site_id: SiteId,
    pub tz: Tz,
    pub meters: HashMap<String, MeterId>,
    pub loaded_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct GatewayCache {
    entries: RwLock<HashMap<String, Arc<GatewayEntry>>>,
}

impl GatewayCache {
    fn get(&self, wire: &str) -> Option<Arc<GatewayEntry>> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(wire)
            .cloned()
    }

    fn put(&self, entry: Arc<GatewayEntry>) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(entry.wire_id.clone(), entry);
    }

    /// Forgets every cached gateway (its meters changed).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

/// The site's time zone; UTC+8 when the stored name is unknown (every site is in China).
pub fn site_tz(name: &str) -> Tz {
    name.parse().unwrap_or(chrono_tz::Asia::Shanghai)
}

impl crate::Worker {
    /// The gateway with this wire id, from the cache unless stale or `refresh`.
    pub async fn gateway_entry(
        &self,
        wire: &str,
        now: DateTime<Utc>,
        refresh: bool,
    ) -> Result<Option<Arc<GatewayEntry>>, StoreError> {
        let cache = &self.inner.gateways;
        if let Some(entry) = cache.get(wire) {
            if !refresh && now - entry.loaded_at < Duration::seconds(GATEWAY_TTL_SECS) {
                return Ok(Some(entry));
            }
        }
        let Some(entry) = load_gateway(self.db(), wire, now).await? else {
            return Ok(None);
        };
        let entry = Arc::new(entry);
        cache.put(entry.clone());
        Ok(Some(entry))
    }

    /// Forgets cached gateways, so the next message reads meters again.
    pub fn forget_gateways(&self) {
        self.inner.gateways.clear();
    }
}

async fn load_gateway(
    conn: &impl ConnectionTrait,
    wire: &str,
    now: DateTime<Utc>,
) -> Result<Option<GatewayEntry>, StoreError> {
    let Some(gw) = store::unscoped::find_gateway_by_wire_id(conn, wire).await? else {
        return Ok(None);
    };
    let meters = meter::Entity::find()
        .filter(meter::Column::OrganizationId.eq(gw.organization_id))
        .filter(meter::Column::GatewayId.eq(gw.id))
        .all(conn)
        .await?;
    let tz = tz_of_site(conn, gw.organization_id, gw.site_id).await?;
    Ok(Some(GatewayEntry {
        org: gw.organization_id,
        id: gw.id,
        wire_id: gw.gateway_id,
        site_id: gw.site_id,
        tz,
        meters: meters.into_iter().map(|m| (m.wire_id, m.id)).collect(),
        loaded_at: now,
    }))
}

pub async fn tz_of_site(
    conn: &impl ConnectionTrait,
    org: OrgId,
    site_id: SiteId,
) -> Result<Tz, StoreError> {
    let site = site::Entity::find_by_id(site_id)
        .filter(site::Column::OrganizationId.eq(org))
        .one(conn)
        .await?;
    Ok(site.map_or(chrono_tz::Asia::Shanghai, |s| site_tz(&s.timezone)))
}

/// Everything rating a meter needs.
#[derive(Clone, Debug)]
pub struct MeterContext {
    pub meter: Meter,
    pub gateway: gateway::Model,
    /// The open account of the meter's unit; none: the unit is vacant, nothing is charged.
    pub account: Option<Account>,
    /// The account's tariff; none: readings are stored and rated once a tariff is set.
    pub tariffs: Option<Arc<TariffVersions>>,
    pub tz: Tz,
    /// The account's alarm and trip thresholds in force (`store::control_settings`).
    pub alarm_threshold: Money,
    pub trip_threshold: Money,
}

impl MeterContext {
    /// Whether `locked` (the account row as it is now) is still what this context was built
    /// from in everything rating and charge control read: open, same unit, tariff and
    /// thresholds. A context that fails this is loaded again.
    pub fn matches(&self, locked: &Account) -> bool {
        self.account.as_ref().is_some_and(|a| {
            a.id == locked.id
                && locked.status == AccountStatus::Open
                && a.unit_id == locked.unit_id
                && a.tariff_id == locked.tariff_id
                && a.alarm_threshold_fen == locked.alarm_threshold_fen
                && a.trip_threshold_fen == locked.trip_threshold_fen
        })
    }
}

/// How long a cached meter context is trusted. Changes the worker hears about through the
/// outbox (meters of a gateway, an account's control settings) clear it at once, and rating
/// checks every cached account against its locked row; what is left to the time limit is a
/// tariff version added while cached (add versions ahead of their effective time) and a
/// site's time zone or thresholds.
const CONTEXT_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// Meter contexts of charged meters (with an open account and a tariff), by meter. Vacant
/// meters are not cached: an account opened on their unit is seen at the next reading.
#[derive(Default)]
pub struct ContextCache {
    entries: RwLock<HashMap<MeterId, (Arc<MeterContext>, std::time::Instant)>>,
}

impl ContextCache {
    fn get(&self, meter: MeterId) -> Option<Arc<MeterContext>> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (ctx, at) = entries.get(&meter)?;
        (at.elapsed() < CONTEXT_TTL).then(|| ctx.clone())
    }

    fn put(&self, ctx: Arc<MeterContext>) {
        if ctx.account.is_none() || ctx.tariffs.is_none() {
            return;
        }
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(ctx.meter.id, (ctx, std::time::Instant::now()));
    }

    /// Forgets every cached context (configuration changed).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

impl crate::Worker {
    /// The contexts of `meters`, from the cache where fresh and else loaded in a few set
    /// queries on `conn` (the rating transaction). Meters not found (deleted, or of another
    /// organization) are left out.
    pub async fn meter_contexts(
        &self,
        conn: &impl ConnectionTrait,
        meters: &[(OrgId, MeterId)],
    ) -> Result<HashMap<MeterId, Arc<MeterContext>>, StoreError> {
        let cache = &self.inner.contexts;
        let mut out = HashMap::with_capacity(meters.len());
        let mut missing = Vec::new();
        for &(org, meter) in meters {
            match cache.get(meter) {
                Some(ctx) if ctx.meter.organization_id == org => {
                    out.insert(meter, ctx);
                }
                _ => missing.push((org, meter)),
            }
        }
        if !missing.is_empty() {
            for (meter, ctx) in load_contexts(conn, &missing).await? {
                let ctx = Arc::new(ctx);
                cache.put(ctx.clone());
                out.insert(meter, ctx);
            }
        }
        Ok(out)
    }

    /// Forgets cached meter contexts (an outbox message said configuration changed).
    pub fn forget_contexts(&self) {
        self.inner.contexts.clear();
    }
}

/// Rows per `IN (...)` list.
const IDS_PER_QUERY: usize = 1_000;

/// The rating contexts of many meters in one query per table (meters, gateways, sites, open
/// accounts of their units, tariff versions).
pub async fn load_contexts(
    conn: &impl ConnectionTrait,
    meters: &[(OrgId, MeterId)],
) -> Result<HashMap<MeterId, MeterContext>, StoreError> {
    let wanted: HashMap<MeterId, OrgId> = meters.iter().map(|&(o, m)| (m, o)).collect();
    let ids: Vec<MeterId> = wanted.keys().copied().collect();
    let mut meter_rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        meter_rows.extend(
            meter::Entity::find()
                .filter(meter::Column::Id.is_in(chunk.iter().copied()))
                .all(conn)
                .await?
                .into_iter()
                .filter(|m| wanted.get(&m.id) == Some(&m.organization_id)),
        );
    }
    let gateway_ids: Vec<GatewayId> = unique(meter_rows.iter().map(|m| m.gateway_id));
    let mut gateways: HashMap<GatewayId, gateway::Model> = HashMap::new();
    for chunk in gateway_ids.chunks(IDS_PER_QUERY) {
        for g in gateway::Entity::find()
            .filter(gateway::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            gateways.insert(g.id, g);
        }
    }
    let site_ids: Vec<SiteId> = unique(gateways.values().map(|g| g.site_id));
    let mut sites: HashMap<SiteId, site::Model> = HashMap::new();
    for chunk in site_ids.chunks(IDS_PER_QUERY) {
        for s in site::Entity::find()
            .filter(site::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            sites.insert(s.id, s);
        }
    }
    let unit_ids: Vec<UnitId> = unique(meter_rows.iter().filter_map(|m| m.unit_id));
    let mut accounts: HashMap<UnitId, Account> = HashMap::new();
    for chunk in unit_ids.chunks(IDS_PER_QUERY) {
        for a in account::Entity::find()
            .filter(account::Column::UnitId.is_in(chunk.iter().copied()))
            .filter(account::Column::Status.eq(AccountStatus::Open))
            .all(conn)
            .await?
        {
            accounts.insert(a.unit_id, a);
        }
    }
    let tariff_ids: Vec<TariffId> = unique(accounts.values().filter_map(|a| a.tariff_id));
    let mut versions: HashMap<TariffId, Vec<tariff_version::Model>> = HashMap::new();
    for chunk in tariff_ids.chunks(IDS_PER_QUERY) {
        for v in tariff_version::Entity::find()
            .filter(tariff_version::Column::TariffId.is_in(chunk.iter().copied()))
            .order_by_asc(tariff_version::Column::EffectiveFrom)
            .all(conn)
            .await?
        {
            versions.entry(v.tariff_id).or_default().push(v);
        }
    }
    let mut parsed: HashMap<TariffId, Option<Arc<TariffVersions>>> = HashMap::new();
    for (id, vs) in versions {
        let defs = vs
            .iter()
            .map(|v| {
                serde_json::from_str::<TariffVersion>(&v.definition)
                    .map_err(|e| StoreError::Invalid(format!("tariff version {}: {e}", v.id)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tv = if defs.is_empty() {
            None
        } else {
            Some(Arc::new(
                TariffVersions::new(defs).map_err(|e| StoreError::Invalid(e.to_string()))?,
            ))
        };
        parsed.insert(id, tv);
    }
    let mut out = HashMap::with_capacity(meter_rows.len());
    for meter in meter_rows {
        let org = meter.organization_id;
        let Some(gateway) = gateways
            .get(&meter.gateway_id)
            .filter(|g| g.organization_id == org)
        else {
            continue;
        };
        let Some(site) = sites
            .get(&gateway.site_id)
            .filter(|s| s.organization_id == org)
        else {
            continue;
        };
        let account = meter
            .unit_id
            .and_then(|u| accounts.get(&u))
            .filter(|a| a.organization_id == org)
            .cloned();
        let tariffs = account
            .as_ref()
            .and_then(|a| a.tariff_id)
            .and_then(|t| parsed.get(&t).cloned().flatten());
        let alarm_threshold = account
            .as_ref()
            .and_then(Account::alarm_threshold)
            .unwrap_or_else(|| site.alarm_threshold());
        let trip_threshold = account
            .as_ref()
            .and_then(Account::trip_threshold)
            .unwrap_or_else(|| site.trip_threshold());
        out.insert(
            meter.id,
            MeterContext {
                gateway: gateway.clone(),
                account,
                tariffs,
                tz: site_tz(&site.timezone),
                alarm_threshold,
                trip_threshold,
                meter,
            },
        );
    }
    Ok(out)
}

fn unique<T: Ord + Copy>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = items.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The context of one meter (see [`load_contexts`]).
pub async fn meter_context(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter_id: MeterId,
) -> Result<MeterContext, StoreError> {
    load_contexts(conn, &[(org, meter_id)])
        .await?
        .remove(&meter_id)
        .ok_or(StoreError::NotFound)
}

/// The open account of a unit, if any.
pub async fn open_account_of_unit(
    conn: &impl ConnectionTrait,
    org: OrgId,
    unit: UnitId,
) -> Result<Option<Account>, StoreError> {
    Ok(account::Entity::find()
        .filter(account::Column::OrganizationId.eq(org))
        .filter(account::Column::UnitId.eq(unit))
        .filter(account::Column::Status.eq(AccountStatus::Open))
        .one(conn)
        .await?)
}

/// The meters of an account's unit.
pub async fn meters_of_account(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: &Account,
) -> Result<Vec<Meter>, StoreError> {
    Ok(meter::Entity::find()
        .filter(meter::Column::OrganizationId.eq(org))
        .filter(meter::Column::UnitId.eq(account.unit_id))
        .all(conn)
        .await?)
}

/// An account of `org` by id.
pub async fn account(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: AccountId,
) -> Result<Account, StoreError> {
    store::account::get(conn, org, id).await
}
