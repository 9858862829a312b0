//! Power commands (trip, close and the others) to meters, with the rules of invariant 4: the
//! one place they are kept, called by `POST /api/v1/meters/{id}/commands` (one meter) and by
//! the account page's buttons (every meter of the unit).
//!
//! Rules kept here: a trip of a protected account is refused (`account_protected`); a close of
//! an account at or below its trip threshold needs an override with an end time at most 31
//! days ahead (`override_required`, `invalid_until`), and tells charge control to keep the power
//! on until then (otherwise the next reading trips it again); a trip tells charge control the
//! account is force-tripped (otherwise the next reading restores it); a close above the
//! threshold ends a forced trip. Commands, their outbox rows, the charge-control row and one
//! `meter.command` audit record per command are one transaction.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait as _};
use store::command::{Command, CommandAction};
use store::{Account, MeterId};

use crate::auth::OrgContext;
use crate::error::ApiError;

/// How long a queued command may wait for its gateway before it expires.
pub const COMMAND_TTL_MINUTES: i64 = 15;
/// The longest a forced close may last.
pub const MAX_OVERRIDE_DAYS: i64 = 31;

/// A forced close below the trip threshold, until a time.
#[derive(Clone, Copy, Debug, Default)]
pub struct Override {
    pub requested: bool,
    pub until: Option<DateTime<Utc>>,
}

/// The trip threshold in force for an account (fen): its own, else its site's, else its
/// organization's (`store::control_settings`, as the worker resolves it).
pub async fn trip_threshold_fen(db: &DatabaseConnection, a: &Account) -> Result<i64, ApiError> {
    let e = store::control_settings::effective_for_account(
        db,
        a.organization_id,
        a,
        &store::control_settings::Defaults::default(),
    )
    .await?;
    Ok(store::money::to_fen(e.trip_threshold.value)?)
}

/// What charge control must be told so that it does not undo `action` on the account's meters,
/// or why the action is refused. `None` when there is no account or nothing to tell.
pub async fn charge_control_for(
    db: &DatabaseConnection,
    account: Option<&Account>,
    action: CommandAction,
    force: Override,
    now: DateTime<Utc>,
) -> Result<Option<serde_json::Value>, ApiError> {
    let Some(a) = account else {
        return Ok(None);
    };
    Ok(match action {
        CommandAction::Trip => {
            if a.protected {
                return Err(ApiError::conflict(
                    "account_protected",
                    "the account is protected (保电): lift protection before tripping",
                ));
            }
            Some(serde_json::json!({"account_id": a.id, "action": "force_trip"}))
        }
        CommandAction::Close => {
            if a.balance_fen <= trip_threshold_fen(db, a).await? {
                let (true, Some(until)) = (force.requested, force.until) else {
                    return Err(ApiError::conflict(
                        "override_required",
                        "the balance is at or below the trip threshold: closing needs \
                         \"override\": true and \"until\"",
                    ));
                };
                if until <= now || until > now + Duration::days(MAX_OVERRIDE_DAYS) {
                    return Err(ApiError::bad_request(
                        "invalid_until",
                        "until must be in the future and at most 31 days ahead",
                    ));
                }
                Some(
                    serde_json::json!({"account_id": a.id, "action": "force_close", "until": until}),
                )
            } else {
                // Ends a forced trip, if any; otherwise charge control settles as usual.
                Some(serde_json::json!({"account_id": a.id, "action": "release"}))
            }
        }
        _ => None,
    })
}

/// Checks the rules for `action` and queues it on each of `meters` in one transaction (see the
/// module docs). Answers the queued commands in the order of `meters`.
pub async fn send(
    db: &DatabaseConnection,
    ctx: &OrgContext,
    account: Option<&Account>,
    meters: &[MeterId],
    action: CommandAction,
    force: Override,
    now: DateTime<Utc>,
) -> Result<Vec<Command>, ApiError> {
    let control = charge_control_for(db, account, action, force, now).await?;
    let ctx = *ctx;
    let meters = meters.to_vec();
    let queued = db
        .transaction::<_, Vec<Command>, ApiError>(|txn| {
            Box::pin(async move { queue(txn, &ctx, &meters, action, force, control, now).await })
        })
        .await?;
    Ok(queued)
}

/// Queues `action` on each of `meters` in the caller's transaction, with `control` (what
/// [`charge_control_for`] answered for their account) as the charge-control outbox row. Bulk
/// commands call this once per account inside their one transaction.
pub async fn queue(
    txn: &DatabaseTransaction,
    ctx: &OrgContext,
    meters: &[MeterId],
    action: CommandAction,
    force: Override,
    control: Option<serde_json::Value>,
    now: DateTime<Utc>,
) -> Result<Vec<Command>, ApiError> {
    let expires_at = now + Duration::minutes(COMMAND_TTL_MINUTES);
    let mut queued = Vec::with_capacity(meters.len());
    for meter in meters {
        let c = store::command::queue_command(
            txn,
            ctx.scope(),
            *meter,
            action,
            expires_at,
            Some(ctx.user_id),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "meter_not_found", "meter"))?;
        ctx.audit(
            txn,
            "meter.command",
            "meter",
            meter,
            serde_json::json!({"command_id": c.id, "seq": c.seq, "action": action,
            "override": force.requested, "until": force.until, "control": control}),
        )
        .await?;
        queued.push(c);
    }
    if let Some(payload) = control {
        store::outbox::enqueue(
            txn,
            Some(ctx.org_id),
            store::outbox::kind::ACCOUNT_CONTROL_CHANGED,
            payload,
        )
        .await?;
    }
    Ok(queued)
}
