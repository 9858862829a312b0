//! The live snapshot of accounts: rebuilt from the database (the truth) after every balance
//! change and written to the [`store::live::LiveCache`], which announces it. When the cache is
//! down the worker keeps rating; the cache is marked stale and rebuilt whole by the schedule
//! once it answers again.

use chrono::{DateTime, Utc};
use domain::{Energy, Money};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use store::entity::{account, control_state};
use store::live::LiveSnapshot;
use store::{AccountId, AccountStatus, OrgId, StoreError};

use crate::context::{meters_of_account, tz_of_site};
use crate::rating::periods;
use crate::{Metrics, Worker};

/// The snapshot of an account as the database has it now.
pub async fn build_snapshot(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account_id: AccountId,
    now: DateTime<Utc>,
) -> Result<LiveSnapshot, StoreError> {
    let account = store::account::get(conn, org, account_id).await?;
    let control = store::control_state::get(conn, org, account_id).await?;
    let meters = meters_of_account(conn, org, &account).await?;
    let ids: Vec<_> = meters.iter().map(|m| m.id).collect();
    let last_reading_at = store::reading::last_good_at(conn, org, &ids).await?;
    let tz = match meters.first() {
        Some(m) => {
            let gw = store::gateway::get(conn, org, m.gateway_id).await?;
            tz_of_site(conn, org, gw.site_id).await?
        }
        None => chrono_tz::Asia::Shanghai,
    };
    let (today, _) = periods(now, tz);
    let (wh, fen) = store::daily::usage_of_account(conn, org, account_id, &today).await?;
    let relay = match control.as_ref().and_then(|c| c.relay.clone()) {
        Some(r) => Some(r),
        None => store::reading::last_relay(conn, org, &ids)
            .await?
            .map(|(r, _)| r),
    };
    Ok(LiveSnapshot {
        account_id,
        organization_id: org,
        balance: account.balance(),
        cc_state: account.cc_state.clone(),
        relay,
        last_reading_at,
        today_kwh: Energy::from_wh(wh),
        today_cost: Money::from_fen(fen),
        updated_at: now,
    })
}

impl Worker {
    /// Rewrites an account's live snapshot; a cache failure is logged and counted, never
    /// fatal (the cache is then stale until rebuilt).
    pub async fn refresh_live(&self, org: OrgId, account: AccountId, now: DateTime<Utc>) {
        let snapshot = match build_snapshot(self.db(), org, account, now).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%account, error = %e, "live snapshot: database");
                return;
            }
        };
        if let Err(e) = self.live().put(&snapshot).await {
            Metrics::add(&self.metrics().live_errors, 1);
            tracing::warn!(%account, error = %e, "live cache unavailable; marked stale");
        }
    }

    /// When the cache is stale and answers again, rewrites every open account's snapshot.
    /// Answers how many were written (0 when nothing was needed or the cache is still down).
    pub async fn rebuild_live_if_stale(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        if !self.live().is_stale() || self.live().ping().await.is_err() {
            return Ok(0);
        }
        // Every organization: the cache is one for the platform (unscoped on purpose).
        let accounts: Vec<(OrgId, AccountId)> = account::Entity::find()
            .filter(account::Column::Status.eq(AccountStatus::Open))
            .select_only()
            .column(account::Column::OrganizationId)
            .column(account::Column::Id)
            .into_tuple()
            .all(self.db())
            .await?;
        self.live().clear_stale();
        for &(org, id) in &accounts {
            self.refresh_live(org, id, now).await;
        }
        tracing::info!(accounts = accounts.len(), "live cache rebuilt");
        Ok(accounts.len())
    }
}

/// What a rating pass knows about an account whose snapshot it refreshes.
#[derive(Clone, Debug)]
pub struct SnapshotHint {
    pub org: OrgId,
    pub account: AccountId,
    /// The site's time zone ("today").
    pub tz: chrono_tz::Tz,
    /// The newest reading the pass saw of the account's meters.
    pub last_reading_at: Option<DateTime<Utc>>,
    /// The newest relay state the pass saw.
    pub relay: Option<String>,
}

/// The snapshots of many accounts after a rating pass, in three set queries (accounts,
/// control states, today's usage). What the pass did not see comes from the previous
/// snapshot: the last reading time of the account's other meters and, when neither charge
/// control nor the readings know it, the relay state.
pub async fn build_snapshots<S: std::hash::BuildHasher>(
    conn: &impl ConnectionTrait,
    hints: &[SnapshotHint],
    previous: &std::collections::HashMap<AccountId, LiveSnapshot, S>,
    now: DateTime<Utc>,
) -> Result<Vec<LiveSnapshot>, StoreError> {
    use std::collections::HashMap;
    let ids: Vec<AccountId> = hints.iter().map(|h| h.account).collect();
    let mut accounts: HashMap<AccountId, store::Account> = HashMap::new();
    let mut relays: HashMap<AccountId, Option<String>> = HashMap::new();
    for chunk in ids.chunks(1_000) {
        for a in account::Entity::find()
            .filter(account::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            accounts.insert(a.id, a);
        }
        let rows: Vec<(AccountId, Option<String>)> = control_state::Entity::find()
            .select_only()
            .column(control_state::Column::AccountId)
            .column(control_state::Column::Relay)
            .filter(control_state::Column::AccountId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        relays.extend(rows);
    }
    let todays: Vec<(OrgId, AccountId, String)> = hints
        .iter()
        .map(|h| (h.org, h.account, periods(now, h.tz).0))
        .collect();
    let usage = store::daily::usage_of_accounts(conn, &todays).await?;
    let mut out = Vec::with_capacity(hints.len());
    for h in hints {
        let Some(account) = accounts
            .get(&h.account)
            .filter(|a| a.organization_id == h.org)
        else {
            continue;
        };
        let prev = previous.get(&h.account);
        let (wh, fen) = usage.get(&h.account).copied().unwrap_or((0, 0));
        let relay = relays
            .get(&h.account)
            .cloned()
            .flatten()
            .or_else(|| h.relay.clone())
            .or_else(|| prev.and_then(|p| p.relay.clone()));
        out.push(LiveSnapshot {
            account_id: h.account,
            organization_id: h.org,
            balance: account.balance(),
            cc_state: account.cc_state.clone(),
            relay,
            last_reading_at: h.last_reading_at.max(prev.and_then(|p| p.last_reading_at)),
            today_kwh: Energy::from_wh(wh),
            today_cost: Money::from_fen(fen),
            updated_at: now,
        });
    }
    Ok(out)
}

impl Worker {
    /// Rewrites the live snapshots of the accounts a rating pass touched, in one write to the
    /// cache (a Redis pipeline); failures are logged and counted, never fatal.
    pub async fn refresh_live_many(&self, hints: &[SnapshotHint], now: DateTime<Utc>) {
        if hints.is_empty() {
            return;
        }
        let ids: Vec<AccountId> = hints.iter().map(|h| h.account).collect();
        let previous = self.live().get_many(&ids).await.unwrap_or_default();
        let snapshots = match build_snapshots(self.db(), hints, &previous, now).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "live snapshots: database");
                return;
            }
        };
        if let Err(e) = self.live().put_many(&snapshots).await {
            Metrics::add(&self.metrics().live_errors, 1);
            tracing::warn!(error = %e, "live cache unavailable; marked stale");
        }
    }
}
