//! Consuming the transactional outbox: what the API and payments changed and the worker must
//! act on. Each message is handled idempotently (a second delivery after a lost `complete`
//! changes nothing) and completed; a failure is retried with a growing delay.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::Event;
use serde::Deserialize;
use store::outbox::{kind, OutboxMessage};
use store::{AccountId, CommandId, OrgId};

use crate::control::Trigger;
use crate::notify::NotifyOutcome;
use crate::Worker;

/// Messages claimed per pass.
const CLAIM_LIMIT: u64 = 100;
/// A claimed message is invisible to other workers this long.
const LEASE: Duration = Duration::from_secs(60);

/// What handling a message came to.
enum Handled {
    Done,
    /// Not the worker's kind.
    NotMine,
    /// Not now: available again at this time (a notification in quiet hours).
    Deferred(DateTime<Utc>),
}

#[derive(Deserialize)]
struct AccountPayload {
    account_id: AccountId,
    /// `topup` for a payment credited by `payments` (with `amount` and `order_id`).
    #[serde(default)]
    cause: Option<String>,
    #[serde(default)]
    amount: Option<domain::Money>,
    #[serde(default)]
    order_id: Option<serde_json::Value>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    until: Option<DateTime<Utc>>,
}

/// `gateway_id` is the row id, or the wire id `gw-...`.
#[derive(Deserialize)]
struct GatewayPayload {
    gateway_id: String,
}

#[derive(Deserialize)]
struct MeterPayload {
    meter_id: store::MeterId,
}

#[derive(Deserialize)]
struct CommandPayload {
    command_id: CommandId,
}

impl Worker {
    /// Claims and handles one round of outbox messages; answers how many were handled.
    pub async fn process_outbox_once(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let messages =
            store::outbox::claim(self.db(), &self.settings().worker_id, CLAIM_LIMIT, LEASE).await?;
        let n = messages.len();
        for m in messages {
            match self.handle_outbox(&m, now).await {
                Ok(Handled::Done) => store::outbox::complete(self.db(), m.id).await?,
                Ok(Handled::Deferred(until)) => {
                    tracing::debug!(id = m.id, %until, "notification deferred by quiet hours");
                    store::outbox::fail(self.db(), m.id, "deferred: quiet hours", until).await?;
                }
                Ok(Handled::NotMine) => {
                    // Not the worker's kind: leave it for its consumer, look again later.
                    let later = Utc::now() + chrono::Duration::minutes(10);
                    store::outbox::fail(self.db(), m.id, "no worker handler for this kind", later)
                        .await?;
                }
                Err(e) => {
                    let delay = chrono::Duration::seconds(
                        2_i64.pow(u32::try_from(m.attempts.clamp(1, 10)).unwrap_or(1)),
                    );
                    tracing::warn!(id = m.id, kind = m.kind, error = %e, "outbox message failed; retrying later");
                    store::outbox::fail(self.db(), m.id, &format!("{e:#}"), Utc::now() + delay)
                        .await?;
                }
            }
        }
        Ok(n)
    }

    async fn handle_outbox(
        &self,
        m: &OutboxMessage,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Handled> {
        let org = m.organization_id;
        match m.kind.as_str() {
            kind::BALANCE_CHANGED => {
                let p: AccountPayload = serde_json::from_value(m.payload.clone())?;
                let org = require_org(org)?;
                self.step_account(org, p.account_id, Trigger::Balance, now)
                    .await?;
                self.refresh_live(org, p.account_id, now).await;
                if let (Some("topup"), Some(amount)) = (p.cause.as_deref(), p.amount) {
                    // The receipt, once per payment (its order names it).
                    let key = p.order_id.map_or_else(
                        || format!("topup:outbox:{}", m.id),
                        |o| {
                            format!(
                                "topup:{}",
                                o.as_str().map_or_else(|| o.to_string(), str::to_owned)
                            )
                        },
                    );
                    store::outbox::enqueue(
                        self.db(),
                        Some(org),
                        kind::NOTIFY,
                        serde_json::json!({
                            "account_id": p.account_id,
                            "template": "topup_credited",
                            "dedup_key": key,
                            "params": {"amount": format!("{:.2}", amount.yuan())},
                        }),
                    )
                    .await?;
                }
            }
            kind::ACCOUNT_CONTROL_CHANGED => {
                // Thresholds may have moved: rating reads meter contexts again.
                self.forget_contexts();
                let p: AccountPayload = serde_json::from_value(m.payload.clone())?;
                let org = require_org(org)?;
                let trigger = match (p.action.as_deref(), p.until) {
                    (Some("force_trip"), _) => Trigger::Operator(Event::ForceTrip),
                    (Some("force_close"), Some(until)) => {
                        Trigger::Operator(Event::ForceClose { until })
                    }
                    (Some("release"), _) => Trigger::Operator(Event::Release),
                    (Some("protect"), _) => Trigger::Operator(Event::Protect),
                    (Some("unprotect"), _) => Trigger::Operator(Event::Unprotect),
                    // Thresholds or anything else: settle against the current balance.
                    _ => Trigger::Balance,
                };
                self.step_account(org, p.account_id, trigger, now).await?;
                self.refresh_live(org, p.account_id, now).await;
            }
            kind::COMMAND_QUEUED => {
                let p: CommandPayload = serde_json::from_value(m.payload.clone())?;
                let org = require_org(org)?;
                match store::command::get(self.db(), org, p.command_id).await {
                    Ok(c) => self.send_command(&c, now).await?,
                    Err(store::StoreError::NotFound) => {
                        tracing::warn!(command = %p.command_id, "queued command not found");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            kind::GATEWAY_CONFIG_CHANGED => {
                // Meters moved: the next message of that gateway reads them again.
                self.forget_gateways();
                self.forget_contexts();
                let p: GatewayPayload = serde_json::from_value(m.payload.clone())?;
                let org = require_org(org)?;
                let id = match p.gateway_id.parse::<store::GatewayId>() {
                    Ok(id) => Some(id),
                    Err(_) => store::unscoped::find_gateway_by_wire_id(self.db(), &p.gateway_id)
                        .await?
                        .filter(|g| g.organization_id == org)
                        .map(|g| g.id),
                };
                if let Some(id) = id {
                    self.publish_gateway_config(org, id).await?;
                } else {
                    tracing::warn!(
                        gateway = p.gateway_id,
                        "config change of an unknown gateway"
                    );
                }
            }
            kind::NOTIFY => {
                return Ok(
                    match self.send_notification(require_org(org)?, m, now).await? {
                        NotifyOutcome::Done => Handled::Done,
                        NotifyOutcome::Deferred(until) => Handled::Deferred(until),
                    },
                )
            }
            kind::READINGS_ENTERED => {
                // Rated by the rater's next pass, like readings that came over MQTT.
                let p: MeterPayload = serde_json::from_value(m.payload.clone())?;
                self.mark_dirty([(require_org(org)?, p.meter_id)]);
            }
            _ => return Ok(Handled::NotMine),
        }
        Ok(Handled::Done)
    }
}

fn require_org(org: Option<OrgId>) -> anyhow::Result<OrgId> {
    org.ok_or_else(|| anyhow::anyhow!("message without an organization"))
}
