//! What the worker looks up around a message: the gateway of a wire id with its meters (cached
//! briefly, refreshed on a miss or a config change), and a meter's rating context (its account,
//! tariff versions and site time zone).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use domain::{Money, TariffVersion, TariffVersions};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use store::entity::{account, gateway, meter, site};
use store::{
    Account, AccountId, AccountStatus, GatewayId, Meter, MeterId, OrgId, SiteId, StoreError, UnitId,
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
    pub tariffs: Option<TariffVersions>,
    pub tz: Tz,
    /// The account's alarm and trip thresholds (its own, else its site's).
    pub alarm_threshold: Money,
    pub trip_threshold: Money,
}

pub async fn meter_context(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter_id: MeterId,
) -> Result<MeterContext, StoreError> {
    let meter = store::meter::get(conn, org, meter_id).await?;
    let gateway = gateway::Entity::find_by_id(meter.gateway_id)
        .filter(gateway::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let site = site::Entity::find_by_id(gateway.site_id)
        .filter(site::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let tz = site_tz(&site.timezone);
    let account = match meter.unit_id {
        Some(unit) => open_account_of_unit(conn, org, unit).await?,
        None => None,
    };
    let tariffs = match account.as_ref().and_then(|a| a.tariff_id) {
        Some(tariff) => {
            let versions = store::tariff::versions(conn, org, tariff).await?;
            let parsed = versions
                .iter()
                .map(|v| {
                    serde_json::from_str::<TariffVersion>(&v.definition)
                        .map_err(|e| StoreError::Invalid(format!("tariff version {}: {e}", v.id)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if parsed.is_empty() {
                None
            } else {
                Some(TariffVersions::new(parsed).map_err(|e| StoreError::Invalid(e.to_string()))?)
            }
        }
        None => None,
    };
    let alarm_threshold = account
        .as_ref()
        .and_then(Account::alarm_threshold)
        .unwrap_or_else(|| site.alarm_threshold());
    let trip_threshold = account
        .as_ref()
        .and_then(Account::trip_threshold)
        .unwrap_or_else(|| site.trip_threshold());
    Ok(MeterContext {
        meter,
        gateway,
        account,
        tariffs,
        tz,
        alarm_threshold,
        trip_threshold,
    })
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
