//! Rating a meter now, in the caller's transaction, up to a final reading: what a settlement
//! (closing an account, replacing a meter) needs before it can move money or retire the meter,
//! because after it the account is closed or the meter detached and the worker would no longer
//! charge what is left.
//!
//! It keeps the worker's rating rules and shares its guarantees: the meter's rating state is
//! locked first ([`crate::rating_state::lock`]), each reading after the state's `last_ts` is
//! rated once with [`domain::rate`], and the charge's idempotency key is the worker's
//! (`charge:{meter}:{ts_ms}` of the last reading covered), so whichever of the two rates a
//! reading first, the other finds it stale. Usage goes to the same day and month periods. An
//! untrusted reading is not charged and nothing is saved: the caller refuses the settlement.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::{rate, Energy, MeterReading, Money, Outcome, RatingContext, TariffVersion};
use domain::{AnomalyKind, TariffVersions, TouPeriod};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::{gateway, reading, site};
use crate::ledger::{self, NewEntry};
use crate::{Account, DatabaseTransaction, LedgerKind, Meter, OrgId, StoreError};

/// What rating through a time did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rated {
    /// Readings rated (`charged` may be zero: a baseline, or no rise).
    Charged { charged: Money, energy_wh: i64 },
    /// The meter's rating is suspended after an anomaly: an operator resets the baseline first.
    Suspended,
    /// A reading was not trusted (nothing charged, nothing saved).
    Untrusted(AnomalyKind),
    /// The account has no tariff (nothing charged, nothing saved).
    NoTariff,
}

/// Rates the unrated readings of `meter` up to and including `through`, charging `account`.
pub async fn rate_through(
    txn: &DatabaseTransaction,
    org: OrgId,
    meter: &Meter,
    account: &Account,
    through: DateTime<Utc>,
) -> Result<Rated, StoreError> {
    let mut state = crate::rating_state::lock(txn, org, meter.id).await?;
    let mut select = reading::Entity::find()
        .filter(reading::Column::OrganizationId.eq(org))
        .filter(reading::Column::MeterId.eq(meter.id))
        .filter(reading::Column::EnergyWh.is_not_null())
        .filter(reading::Column::Ts.lte(through));
    if let Some(s) = &state {
        select = select.filter(reading::Column::Ts.gt(s.last_ts));
    }
    let rows = select.order_by_asc(reading::Column::Ts).all(txn).await?;
    if rows.is_empty() {
        return Ok(Rated::Charged {
            charged: Money::ZERO,
            energy_wh: 0,
        });
    }
    let Some(tariffs) = tariffs_of(txn, org, account).await? else {
        return Ok(Rated::NoTariff);
    };
    let tz = tz_of_meter(txn, org, meter).await?;
    let ctx = RatingContext {
        ct_ratio: meter.ct_ratio()?,
        tariffs: &tariffs,
        tz,
        max_register_power_kw: meter.max_power_kw()?,
    };
    let before = state.clone();
    let mut usage: BTreeMap<String, (i64, Money)> = BTreeMap::new();
    let (mut post, mut energy_wh) = (Money::ZERO, 0);
    for row in &rows {
        let Some(r) = meter_reading(row) else {
            continue;
        };
        match rate(state.as_ref(), &r, &ctx).map_err(|e| StoreError::Invalid(e.to_string()))? {
            Outcome::Baseline(s) => state = Some(s),
            Outcome::Rated(rated) => {
                let local = r.ts.with_timezone(&tz);
                let wh = rated.consumption.to_wh().unwrap_or(0);
                for period in [local.format("%Y-%m-%d"), local.format("%Y-%m")] {
                    let e = usage.entry(period.to_string()).or_insert((0, Money::ZERO));
                    e.0 += wh;
                    e.1 += rated.post;
                }
                post += rated.post;
                energy_wh += wh;
                state = Some(rated.new_state);
            }
            Outcome::Stale => {}
            Outcome::Suspended => return Ok(Rated::Suspended),
            Outcome::Anomaly { kind, .. } => return Ok(Rated::Untrusted(kind)),
        }
    }
    let Some(new_state) = state else {
        return Ok(Rated::Charged {
            charged: Money::ZERO,
            energy_wh: 0,
        });
    };
    if Some(&new_state) != before.as_ref() {
        crate::rating_state::save(txn, org, meter.id, &new_state).await?;
    }
    if post != Money::ZERO {
        let from = before.as_ref().map(|s| s.last_ts.to_rfc3339());
        ledger::post_in_txn(
            txn,
            org,
            NewEntry {
                account_id: account.id,
                kind: LedgerKind::Charge,
                amount: -post,
                idempotency_key: format!(
                    "charge:{}:{}",
                    meter.id,
                    new_state.last_ts.timestamp_millis()
                ),
                corrects: None,
                memo: Some(format!(
                    "meter {} {} → {}",
                    meter.wire_id,
                    from.unwrap_or_default(),
                    new_state.last_ts.to_rfc3339()
                )),
                created_by: None,
            },
        )
        .await?;
    }
    for (period, (wh, cost)) in usage {
        crate::daily::add_usage(
            txn,
            org,
            meter.id,
            Some(account.id),
            &period,
            wh,
            cost.to_fen().unwrap_or(0),
        )
        .await?;
    }
    Ok(Rated::Charged {
        charged: post,
        energy_wh,
    })
}

/// The account's tariff versions, `None` without a tariff or versions.
async fn tariffs_of(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: &Account,
) -> Result<Option<TariffVersions>, StoreError> {
    let Some(tariff) = account.tariff_id else {
        return Ok(None);
    };
    let parsed = crate::tariff::versions(conn, org, tariff)
        .await?
        .iter()
        .map(|v| {
            serde_json::from_str::<TariffVersion>(&v.definition)
                .map_err(|e| StoreError::Invalid(format!("tariff version {}: {e}", v.id)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if parsed.is_empty() {
        return Ok(None);
    }
    TariffVersions::new(parsed)
        .map(Some)
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

/// The time zone of the meter's site (UTC+8 when unknown: every site is in China).
async fn tz_of_meter(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter: &Meter,
) -> Result<chrono_tz::Tz, StoreError> {
    let gw = gateway::Entity::find_by_id(meter.gateway_id)
        .filter(gateway::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let site = site::Entity::find_by_id(gw.site_id)
        .filter(site::Column::OrganizationId.eq(org))
        .one(conn)
        .await?;
    Ok(site
        .and_then(|s| s.timezone.parse().ok())
        .unwrap_or(chrono_tz::Asia::Shanghai))
}

/// The domain reading of a stored row with energy, TOU registers included (as the worker reads
/// them).
fn meter_reading(row: &reading::Model) -> Option<MeterReading> {
    let registers = [
        row.tou_sharp_wh,
        row.tou_peak_wh,
        row.tou_flat_wh,
        row.tou_valley_wh,
    ];
    let tou: BTreeMap<TouPeriod, Energy> = TouPeriod::ALL
        .into_iter()
        .zip(registers)
        .filter_map(|(p, wh)| wh.map(|wh| (p, Energy::from_wh(wh))))
        .collect();
    Some(MeterReading {
        ts: row.ts,
        total: Energy::from_wh(row.energy_wh?),
        tou: (!tou.is_empty()).then_some(tou),
    })
}
