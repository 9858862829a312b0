//! Commands on the wire: publishing a queued command on its gateway's `down/commands`, mapping
//! the agent's acks to command states, and the retry sweep.
//!
//! Rules kept here (ARCHITECTURE.md "Commands", invariant 4):
//! - a resend keeps the seq, so the agent answers with its stored ack instead of executing
//!   twice; a command gets `command_attempts` sends with doubling waits, then fails and opens
//!   a work order "on-site action needed";
//! - a gateway whose retained status says offline holds its commands (no attempt counted)
//!   until it is back or the command expires;
//! - `unsupported` fails without retry and opens no work order for alarm commands; a trip or
//!   close `executed` with `relay: null` succeeds unverified and feeds the expected relay state
//!   to charge control (later readings confirm it);
//! - an ack moves a command only from a non-final state, so duplicated acks change nothing.

use chrono::{DateTime, Duration, Utc};
use protocol::{AckStatus, CommandAck, RelayState};
use sea_orm::EntityTrait;
use store::command::{Command, CommandAction};
use store::entity::{gateway, meter};
use store::work_order::NewWorkOrder;
use store::{CommandState, StoreError};

use crate::context::open_account_of_unit;
use crate::control::{relay_of, Trigger};
use crate::{Metrics, Worker};

/// Commands looked at per sweep.
const SWEEP_LIMIT: u64 = 500;

fn wire_action(a: CommandAction) -> protocol::Action {
    match a {
        CommandAction::Trip => protocol::Action::Trip,
        CommandAction::Close => protocol::Action::Close,
        CommandAction::AlarmOn => protocol::Action::AlarmOn,
        CommandAction::AlarmOff => protocol::Action::AlarmOff,
        CommandAction::ReadNow => protocol::Action::ReadNow,
        CommandAction::SyncTime => protocol::Action::SyncTime,
        CommandAction::SetParams => protocol::Action::SetParams,
    }
}

impl Worker {
    /// Publishes a command (first send or resend, same seq) unless its gateway is offline,
    /// and records the send.
    pub async fn send_command(&self, c: &Command, now: DateTime<Utc>) -> anyhow::Result<()> {
        if c.is_final() {
            return Ok(());
        }
        if now >= c.expires_at {
            store::command::transition(
                self.db(),
                c.id,
                CommandState::Expired,
                None,
                Some("expired before sending"),
                now,
            )
            .await?;
            return Ok(());
        }
        let m = meter::Entity::find_by_id(c.meter_id)
            .one(self.db())
            .await?
            .ok_or(StoreError::NotFound)?;
        let gw = gateway::Entity::find_by_id(m.gateway_id)
            .one(self.db())
            .await?
            .ok_or(StoreError::NotFound)?;
        let timeout =
            Duration::from_std(self.settings().command_timeout).unwrap_or(Duration::seconds(10));
        if !gw.online && gw.last_seen_at.is_some() {
            // Held while the gateway says it is offline; its status brings it back.
            store::command::postpone(self.db(), c.id, now + timeout).await?;
            return Ok(());
        }
        let message = protocol::Command {
            v: protocol::V1,
            id: protocol::CommandId::parse(&c.id.to_string())?,
            meter: protocol::MeterId::parse(&m.wire_id)?,
            seq: u64::try_from(c.seq)?,
            action: wire_action(c.action()?),
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            params: None,
        };
        let gateway_id = protocol::GatewayId::parse(&gw.gateway_id)?;
        // Mark first: a lost publish is resent by the sweep; an ack racing ahead of the mark
        // finds the command `sent` or `queued`, both of which it may leave.
        let backoff = timeout * 2_i32.pow(u32::try_from(c.attempts.clamp(0, 16)).unwrap_or(0));
        if store::command::mark_sent(self.db(), c.id, now, now + backoff)
            .await?
            .is_none()
        {
            return Ok(());
        }
        self.publisher()
            .publish(
                &protocol::topic::commands(&gateway_id),
                protocol::encode(&message)?,
                false,
            )
            .await?;
        Metrics::add(&self.metrics().commands_sent, 1);
        Ok(())
    }

    /// Maps an agent's ack to the command's state and follows up (charge control, work order).
    pub async fn handle_ack(
        &self,
        gateway_wire: &str,
        ack: &CommandAck,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Metrics::add(&self.metrics().acks, 1);
        let Some(gw) = self.gateway_entry(gateway_wire, now, false).await? else {
            tracing::warn!(gateway = gateway_wire, "ack from an unknown gateway");
            return Ok(());
        };
        let Some(&meter_id) = gw.meters.get(ack.meter.as_str()) else {
            tracing::warn!(
                gateway = gateway_wire,
                meter = ack.meter.as_str(),
                "ack for an unknown meter"
            );
            return Ok(());
        };
        let Ok(seq) = i64::try_from(ack.seq) else {
            return Ok(());
        };
        let Some(c) = store::command::find_by_seq(self.db(), gw.org, meter_id, seq).await? else {
            tracing::warn!(meter = ack.meter.as_str(), seq, "ack for an unknown seq");
            return Ok(());
        };
        if c.id.to_string() != ack.id.as_str() {
            tracing::warn!(
                meter = ack.meter.as_str(),
                seq,
                "ack id does not match the command with that seq"
            );
            return Ok(());
        }
        let action = c.action().map_err(|e| StoreError::Invalid(e.to_string()))?;
        let expected = action.expected_relay();
        let relay = ack.relay.map(|r| match r {
            RelayState::Open => "open",
            RelayState::Closed => "closed",
        });
        let (state, detail): (CommandState, Option<String>) = match ack.status {
            AckStatus::Executed => match (expected, relay) {
                (Some(want), Some(got)) if want != got => (
                    CommandState::Failed,
                    Some(format!("relay read back {got}, expected {want}")),
                ),
                (Some(_), None) => (
                    CommandState::Succeeded,
                    Some("unverified: no relay read back".into()),
                ),
                _ => (CommandState::Succeeded, ack.detail.clone()),
            },
            AckStatus::Duplicate => (
                CommandState::Failed,
                Some("duplicate: the agent used this seq already".into()),
            ),
            AckStatus::Failed => (CommandState::Failed, ack.detail.clone()),
            AckStatus::Expired => (CommandState::Expired, ack.detail.clone()),
            AckStatus::Unsupported => (
                CommandState::Failed,
                Some("unsupported by the meter".into()),
            ),
        };
        let Some(updated) =
            store::command::transition(self.db(), c.id, state, relay, detail.as_deref(), now)
                .await?
        else {
            return Ok(()); // already final: a duplicated ack
        };
        let meter_row = store::meter::get(self.db(), gw.org, meter_id).await?;
        let account = match meter_row.unit_id {
            Some(unit) => open_account_of_unit(self.db(), gw.org, unit).await?,
            None => None,
        };
        let relevant = matches!(action, CommandAction::Trip | CommandAction::Close);
        if state == CommandState::Failed && relevant && ack.status != AckStatus::Unsupported {
            self.command_work_order(
                &updated,
                &meter_row.wire_id,
                account.as_ref(),
                detail.as_deref().unwrap_or("failed"),
                now,
            )
            .await?;
        }
        if let (Some(account), true) = (account, state == CommandState::Succeeded && relevant) {
            // Read back, or unverified: the expected state (readings confirm it later).
            let seen = relay.or(expected).and_then(relay_of);
            if let Some(seen) = seen {
                if let Err(e) = self
                    .step_account(gw.org, account.id, Trigger::Relay(seen), now)
                    .await
                {
                    tracing::warn!(error = %e, "charge control after an ack");
                }
                self.refresh_live(gw.org, account.id, now).await;
            }
        }
        Ok(())
    }

    async fn command_work_order(
        &self,
        c: &Command,
        meter_wire: &str,
        account: Option<&store::Account>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let unit = account.map(|a| a.unit_id.to_string()).unwrap_or_default();
        store::work_order::open_once(
            self.db(),
            c.organization_id,
            NewWorkOrder {
                kind: "command_failed".into(),
                title: format!("需现场处理 On-site action needed: {} on meter {meter_wire}", c.action),
                detail: format!(
                    "Command {} (seq {}) to meter {meter_wire} of unit {unit} failed after {} attempt(s): {reason}",
                    c.id, c.seq, c.attempts
                ),
                account_id: account.map(|a| a.id),
                meter_id: Some(c.meter_id),
                gateway_id: None,
                dedup_key: format!("command_failed:{}", c.id),
            },
            now,
        )
        .await?;
        Ok(())
    }

    /// Sends commands whose time has come: first sends that were lost, resends after a missed
    /// ack, and fails or expires those out of attempts or time. Answers how many it handled.
    pub async fn sweep_commands(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let due = store::command::due(self.db(), now, SWEEP_LIMIT).await?;
        for c in &due {
            if now >= c.expires_at {
                store::command::transition(
                    self.db(),
                    c.id,
                    CommandState::Expired,
                    None,
                    Some("no ack before expiry"),
                    now,
                )
                .await?;
            } else if c.attempts >= self.settings().command_attempts {
                let Some(failed) = store::command::transition(
                    self.db(),
                    c.id,
                    CommandState::Failed,
                    None,
                    Some("no ack"),
                    now,
                )
                .await?
                else {
                    continue;
                };
                let m = store::meter::get(self.db(), c.organization_id, c.meter_id).await?;
                let account = match m.unit_id {
                    Some(unit) => open_account_of_unit(self.db(), c.organization_id, unit).await?,
                    None => None,
                };
                if matches!(failed.action()?, CommandAction::Trip | CommandAction::Close) {
                    self.command_work_order(&failed, &m.wire_id, account.as_ref(), "no ack", now)
                        .await?;
                }
            } else {
                self.send_command(c, now).await?;
            }
        }
        Ok(due.len())
    }
}
