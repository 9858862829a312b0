//! The daily low-balance reminder: once per local day, at `notify.daily_reminder_at` (default
//! 10:00, site local time), every open account of a site whose balance is at or below its
//! alarm threshold gets a `daily_low_balance` message for its tenant.
//!
//! Safe with several workers and repeated runs: a site's run takes the lease
//! `daily_reminder:{site}` and records the run, so a site is reminded once per local day; and
//! each reminder's dedup key names the account and the local date, so even a run repeated
//! after a crash sends nothing twice.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use store::entity::{account, building, site, unit};
use store::AccountStatus;

use super::quiet::parse_time;
use crate::context::site_tz;
use crate::Worker;

impl Worker {
    /// Queues today's reminders of every site whose reminder time has passed and which was
    /// not reminded yet today. Answers how many reminders were queued.
    pub async fn daily_reminders(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let at = match self.settings().notify.daily_reminder_at.as_deref() {
            Some(s) if s.trim().eq_ignore_ascii_case("off") => return Ok(0),
            Some(s) => parse_time(s).ok_or_else(|| {
                anyhow::anyhow!("notify.daily_reminder_at must be HH:MM or off (got {s:?})")
            })?,
            None => parse_time("10:00").unwrap_or_default(),
        };
        // Every site of every organization: the schedule runs for the platform.
        let sites = site::Entity::find().all(self.db()).await?;
        let mut queued = 0;
        for s in sites {
            let tz = site_tz(&s.timezone);
            let local = now.with_timezone(&tz);
            if local.time() < at {
                continue;
            }
            let today = local.date_naive();
            let lease = format!("daily_reminder:{}", s.id);
            if let Some(last) = store::job_lease::last_run(self.db(), &lease).await? {
                if last.with_timezone(&tz).date_naive() >= today {
                    continue;
                }
            }
            if !store::job_lease::try_take(
                self.db(),
                &lease,
                &self.settings().worker_id,
                now,
                now + Duration::minutes(10),
            )
            .await?
            {
                continue;
            }
            let buildings = Query::select()
                .column(building::Column::Id)
                .from(building::Entity)
                .and_where(building::Column::SiteId.eq(s.id))
                .to_owned();
            let units = Query::select()
                .column(unit::Column::Id)
                .from(unit::Entity)
                .and_where(unit::Column::BuildingId.in_subquery(buildings))
                .to_owned();
            let accounts = account::Entity::find()
                .filter(account::Column::OrganizationId.eq(s.organization_id))
                .filter(account::Column::Status.eq(AccountStatus::Open))
                .filter(account::Column::TenantId.is_not_null())
                .filter(account::Column::UnitId.in_subquery(units))
                .all(self.db())
                .await?;
            let date = today.format("%Y-%m-%d");
            for a in accounts {
                let alarm = a.alarm_threshold_fen.unwrap_or(s.alarm_threshold_fen);
                if a.balance_fen > alarm {
                    continue;
                }
                store::outbox::enqueue(
                    self.db(),
                    Some(a.organization_id),
                    store::outbox::kind::NOTIFY,
                    serde_json::json!({
                        "account_id": a.id,
                        "template": "daily_low_balance",
                        "dedup_key": format!("daily:{}:{date}", a.id),
                    }),
                )
                .await?;
                queued += 1;
            }
            store::job_lease::mark_run(self.db(), &lease, now).await?;
        }
        Ok(queued)
    }
}
