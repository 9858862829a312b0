//! Charge control: the domain state machine ([`domain::step`]) run on every balance change,
//! relay observation, operator action and clock tick, with its actions carried out.
//!
//! Rules kept here (ARCHITECTURE.md "Charge control", invariant 4):
//! - one step at a time per account: the step runs in a transaction holding the account's
//!   control-state row lock, and its commands, notification requests and work orders are
//!   written in that same transaction, so a transition and its consequences happen together
//!   exactly once;
//! - commands are published right after the commit (a restore after a payment is on the wire
//!   within the outbox poll interval) and retried by the schedule if that publish is lost;
//! - notifications go out per transition (dedup key = account, kind and transition time);
//! - the live snapshot is rewritten after every step that follows a balance change.

use chrono::{DateTime, Duration, TimeDelta, Utc};
use domain::{
    step, Action, Cause, ControlSettings, ControlState, Event, Money, NotifyKind, Relay,
    RelayCommand, TripWindows,
};
use sea_orm::{DatabaseTransaction, TransactionTrait};
use store::command::{Command, CommandAction};
use store::work_order::NewWorkOrder;
use store::{Account, AccountId, OrgId, StoreError};

use crate::context::{meters_of_account, site_tz};
use crate::Worker;

/// What made the worker step an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The balance changed (a charge, or something the outbox reported); a rise is a payment.
    Balance,
    /// A relay state was observed in a reading or an ack.
    Relay(Relay),
    /// The clock moved.
    Tick,
    /// An operator action (force trip/close, release, protect, unprotect).
    Operator(Event),
}

pub fn command_action(c: RelayCommand) -> CommandAction {
    match c {
        RelayCommand::Trip => CommandAction::Trip,
        RelayCommand::Close => CommandAction::Close,
        RelayCommand::AlarmOn => CommandAction::AlarmOn,
        RelayCommand::AlarmOff => CommandAction::AlarmOff,
    }
}

pub fn relay_of(name: &str) -> Option<Relay> {
    match name {
        "open" => Some(Relay::Open),
        "closed" => Some(Relay::Closed),
        _ => None,
    }
}

fn notify_name(kind: NotifyKind) -> &'static str {
    match kind {
        NotifyKind::LowBalance => "low_balance",
        NotifyKind::TripPending => "trip_pending",
        NotifyKind::Tripped => "tripped",
        NotifyKind::Restored => "restored",
    }
}

/// Whether a meter can sound its own low-balance alarm, so `alarm_on`/`alarm_off` are worth
/// sending. Version 1 of the register map (ARCHITECTURE.md, `protocol::RegisterMap`) has no
/// alarm register, neither in a preset nor in an explicit map, and the agent answers
/// `unsupported` to every alarm command; so no meter does today, and the alarm reaches the
/// tenant as a notification only. When the map gains an alarm write, check it here.
fn sounds_alarm(meter: &store::Meter) -> bool {
    let _ = meter;
    false
}

impl Worker {
    /// The account's charge-control settings as `store::control_settings` resolves them
    /// (account, else site, else organization), over the worker's configured trip windows and
    /// restore SLA.
    async fn control_settings(
        &self,
        txn: &DatabaseTransaction,
        account: &Account,
    ) -> Result<(ControlSettings, chrono_tz::Tz), StoreError> {
        let org = account.organization_id;
        let site = store::control_settings::site_of_account(txn, org, account).await?;
        let effective = store::control_settings::effective_in_site(
            txn,
            org,
            account,
            &site,
            &self.control_defaults(),
        )
        .await?;
        Ok((
            effective.to_domain(account.protected),
            site_tz(&site.timezone),
        ))
    }

    /// The trip windows and restore SLA no organization, site or account overrides.
    pub fn control_defaults(&self) -> store::control_settings::Defaults {
        let s = self.settings();
        store::control_settings::Defaults {
            trip_windows: if s.trip_windows == "always" {
                TripWindows::always()
            } else {
                TripWindows::working_hours()
            },
            restore_sla: TimeDelta::from_std(s.restore_sla).unwrap_or(TimeDelta::minutes(5)),
        }
    }

    /// Steps an account's charge control and carries out what it decided. Answers the cause.
    pub async fn step_account(
        &self,
        org: OrgId,
        account_id: AccountId,
        trigger: Trigger,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Cause> {
        let txn = self.db().begin().await?;
        // The lock comes first: on SQLite the write lock before any read.
        let stored =
            store::control_state::lock(&txn, org, account_id, ControlState::new(Money::ZERO))
                .await?;
        let account = store::account::get(&txn, org, account_id).await?;
        if account.status == store::AccountStatus::Closed {
            // Settled and closed: its meters were tripped (or deliberately kept on) by the
            // closing itself; charge control has nothing more to decide for it.
            txn.rollback().await?;
            return Ok(Cause::NoChange);
        }
        let (settings, tz) = self.control_settings(&txn, &account).await?;
        let balance = account.balance();
        let mut stored = stored;
        if stored.cause == "opened" {
            // First sight of this account: start from its real balance, not from zero, or the
            // first relay reading or tick would trip (and then "restore") every account.
            stored.state.balance = balance;
        }
        let event = match trigger {
            Trigger::Balance if balance > stored.state.balance => Event::PaymentReceived(balance),
            Trigger::Balance => Event::BalanceChanged(balance),
            Trigger::Relay(r) => Event::RelayObserved(r),
            Trigger::Tick => Event::Tick,
            Trigger::Operator(e) => e,
        };
        let t = step(&stored.state, &event, &settings, now, tz);
        if let Trigger::Relay(r) = trigger {
            let name = if r == Relay::Open { "open" } else { "closed" };
            store::control_state::set_relay(&txn, org, account_id, name).await?;
        }
        let cause_name = serde_json::to_value(t.cause)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        if t.state != stored.state || t.cause != Cause::NoChange {
            store::control_state::save(&txn, org, account_id, &t.state, &cause_name).await?;
        }
        let mut commands: Vec<Command> = Vec::new();
        for action in &t.actions {
            match action {
                Action::SendCommand(c) => {
                    commands.extend(
                        self.queue_for_account(&txn, &account, command_action(*c), now)
                            .await?,
                    );
                }
                Action::Notify(kind) => {
                    store::outbox::enqueue(
                        &txn,
                        Some(org),
                        store::outbox::kind::NOTIFY,
                        serde_json::json!({
                            "account_id": account_id,
                            "template": notify_name(*kind),
                            "dedup_key": format!("cc:{account_id}:{}:{}", notify_name(*kind), now.timestamp_millis()),
                            "balance": balance,
                        }),
                    )
                    .await?;
                }
                Action::OpenWorkOrder(_) => {
                    store::work_order::open_once(
                        &txn,
                        org,
                        NewWorkOrder {
                            kind: "restore_overdue".into(),
                            title: format!("恢复供电超时 Restore overdue: account {}", account.account_no),
                            detail: format!(
                                "The account was paid up but its relay was not seen closed within {} s.",
                                settings.restore_sla.num_seconds()
                            ),
                            account_id: Some(account_id),
                            meter_id: None,
                            gateway_id: None,
                            dedup_key: format!("restore_overdue:{account_id}"),
                        },
                        now,
                    )
                    .await?;
                }
            }
        }
        if matches!(
            t.state.status,
            domain::Status::Normal | domain::Status::Alarmed
        ) {
            // Power is back where it belongs: a restore work order has nothing left to do.
            store::work_order::resolve_by_key(
                &txn,
                org,
                &format!("restore_overdue:{account_id}"),
                now,
            )
            .await?;
        }
        txn.commit().await?;
        if t.cause != Cause::NoChange {
            tracing::info!(
                %account_id,
                from = stored.state.status.name(),
                to = t.state.status.name(),
                cause = cause_name,
                "charge control"
            );
        }
        for c in commands {
            self.send_command(&c, now).await?;
        }
        Ok(t.cause)
    }

    /// Queues `action` for every meter of the account (the unit's meters).
    async fn queue_for_account(
        &self,
        txn: &DatabaseTransaction,
        account: &Account,
        action: CommandAction,
        now: DateTime<Utc>,
    ) -> Result<Vec<Command>, StoreError> {
        let org = account.organization_id;
        let expiry =
            Duration::from_std(self.settings().command_expiry).unwrap_or(Duration::hours(1));
        let mut out = Vec::new();
        for m in meters_of_account(txn, org, account).await? {
            if matches!(action, CommandAction::AlarmOn | CommandAction::AlarmOff)
                && !sounds_alarm(&m)
            {
                continue;
            }
            out.push(
                store::command::insert_command(txn, org, m.id, action, now + expiry, None).await?,
            );
        }
        Ok(out)
    }
}
