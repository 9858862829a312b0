//! The live snapshot of accounts: rebuilt from the database (the truth) after every balance
//! change and written to the [`store::live::LiveCache`], which announces it. When the cache is
//! down the worker keeps rating; the cache is marked stale and rebuilt whole by the schedule
//! once it answers again.

use chrono::{DateTime, Utc};
use domain::{Energy, Money};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use store::entity::account;
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
