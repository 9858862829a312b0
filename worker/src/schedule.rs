//! The schedules, run by [`Worker::tick`]: command retries, charge control on the clock,
//! the live cache rebuild, recovery of unrated readings, offline detection, the daily and
//! monthly freeze and the daily low-balance reminder ([`crate::notify::reminder`]). Each job is idempotent; the heavier ones take a lease so that with several
//! workers one runs them per interval.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use sea_orm::{ConnectionTrait, EntityTrait, FromQueryResult, Statement};
use store::entity::{meter, rating_state};
use store::work_order::NewWorkOrder;
use store::{AccountId, MeterId, OrgId};

use crate::context::site_tz;
use crate::control::Trigger;
use crate::Worker;

/// How often the leased jobs run at most.
const LEASED_EVERY: i64 = 60;

/// What a tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    pub commands: usize,
    pub accounts_stepped: usize,
    pub live_rebuilt: usize,
    pub leased_jobs_ran: bool,
}

impl Worker {
    /// Runs every schedule that is due at `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> anyhow::Result<TickReport> {
        let mut report = TickReport {
            commands: self.sweep_commands(now).await?,
            ..TickReport::default()
        };
        for (org, account) in store::control_state::not_normal(self.db()).await? {
            let cause = self.step_account(org, account, Trigger::Tick, now).await?;
            if cause != domain::Cause::NoChange {
                self.refresh_live(org, account, now).await;
            }
            report.accounts_stepped += 1;
        }
        report.live_rebuilt = self.rebuild_live_if_stale(now).await?;
        let until = now + Duration::seconds(LEASED_EVERY);
        let due = match store::job_lease::last_run(self.db(), "periodic").await? {
            Some(last) => now - last >= Duration::seconds(LEASED_EVERY),
            None => true,
        };
        if due
            && store::job_lease::try_take(
                self.db(),
                "periodic",
                &self.settings().worker_id,
                now,
                until,
            )
            .await?
        {
            self.recover_unrated(now).await?;
            self.detect_offline_meters(now).await?;
            self.freeze(now).await?;
            if let Err(e) = self.daily_reminders(now).await {
                // A reminder is not worth stopping the other schedules for.
                tracing::warn!(error = %format!("{e:#}"), "daily reminders failed");
            }
            store::job_lease::mark_run(self.db(), "periodic", now).await?;
            report.leased_jobs_ran = true;
        }
        Ok(report)
    }

    /// Meters with readings newer than their rating state (a worker died between storing and
    /// rating) go back to rating.
    async fn recover_unrated(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        #[derive(FromQueryResult)]
        struct Row {
            organization_id: OrgId,
            meter_id: MeterId,
        }
        let backend = self.db().get_database_backend();
        let since = now - Duration::days(2);
        let sql = match backend {
            sea_orm::DbBackend::Postgres => {
                "SELECT DISTINCT r.organization_id, r.meter_id FROM readings r \
                 LEFT JOIN rating_states s ON s.meter_id = r.meter_id \
                 WHERE r.energy_wh IS NOT NULL AND r.received_at > $1 \
                 AND (s.last_ts IS NULL OR r.ts > s.last_ts)"
            }
            _ => {
                "SELECT DISTINCT r.organization_id, r.meter_id FROM readings r \
                 LEFT JOIN rating_states s ON s.meter_id = r.meter_id \
                 WHERE r.energy_wh IS NOT NULL AND r.received_at > ? \
                 AND (s.last_ts IS NULL OR r.ts > s.last_ts)"
            }
        };
        let rows =
            Row::find_by_statement(Statement::from_sql_and_values(backend, sql, [since.into()]))
                .all(self.db())
                .await?;
        if !rows.is_empty() {
            self.mark_dirty(rows.into_iter().map(|r| (r.organization_id, r.meter_id)));
        }
        Ok(())
    }

    /// One work order per meter without a good reading for `meter_offline_after`, resolved
    /// when readings come back. Across organizations (the schedule runs for the platform).
    async fn detect_offline_meters(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let after = Duration::from_std(self.settings().meter_offline_after)
            .unwrap_or(Duration::minutes(30));
        let meters = meter::Entity::find().all(self.db()).await?;
        let states: std::collections::HashMap<MeterId, Option<DateTime<Utc>>> =
            rating_state::Entity::find()
                .all(self.db())
                .await?
                .into_iter()
                .map(|s| (s.meter_id, s.last_ts))
                .collect();
        for m in meters {
            let last = states.get(&m.id).copied().flatten().unwrap_or(m.created_at);
            let key = format!("meter_offline:{}", m.id);
            if now - last > after {
                store::work_order::open_once(
                    self.db(),
                    m.organization_id,
                    NewWorkOrder {
                        kind: "meter_offline".into(),
                        title: format!("电表离线 Meter offline: {}", m.wire_id),
                        detail: format!(
                            "No good reading from meter {} since {}.",
                            m.wire_id,
                            last.to_rfc3339()
                        ),
                        account_id: None,
                        meter_id: Some(m.id),
                        gateway_id: Some(m.gateway_id),
                        dedup_key: key,
                    },
                    now,
                )
                .await?;
            } else {
                store::work_order::resolve_by_key(self.db(), m.organization_id, &key, now).await?;
            }
        }
        Ok(())
    }

    /// Freezes every open account's yesterday (and last month on the 1st), by its site's
    /// local calendar. Freezing twice writes nothing new.
    pub async fn freeze(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        #[derive(FromQueryResult)]
        struct Row {
            organization_id: OrgId,
            id: AccountId,
            timezone: String,
        }
        let backend = self.db().get_database_backend();
        let sql = "SELECT a.organization_id, a.id, s.timezone FROM accounts a \
                   JOIN units u ON u.id = a.unit_id JOIN buildings b ON b.id = u.building_id \
                   JOIN sites s ON s.id = b.site_id WHERE a.status = 'open'";
        let rows = Row::find_by_statement(Statement::from_string(backend, sql))
            .all(self.db())
            .await?;
        let mut written = 0;
        for r in rows {
            let tz = site_tz(&r.timezone);
            let today = now.with_timezone(&tz).date_naive();
            let Some(yesterday) = today.pred_opt() else {
                continue;
            };
            let midnight = |d: chrono::NaiveDate| {
                tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
            };
            let (Some(start), Some(end)) = (midnight(yesterday), midnight(today)) else {
                continue;
            };
            let period = yesterday.format("%Y-%m-%d").to_string();
            if store::daily::freeze_balance(self.db(), r.organization_id, r.id, &period, start, end)
                .await?
            {
                written += 1;
            }
            if today.format("%d").to_string() == "01" {
                let first_of_last = yesterday.with_day0(0).unwrap_or(yesterday);
                if let Some(month_start) = midnight(first_of_last) {
                    let period = yesterday.format("%Y-%m").to_string();
                    store::daily::freeze_balance(
                        self.db(),
                        r.organization_id,
                        r.id,
                        &period,
                        month_start,
                        end,
                    )
                    .await?;
                }
            }
        }
        Ok(written)
    }
}
