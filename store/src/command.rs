//! Meter commands: one instruction to one meter with a per-meter `seq`, and the states it moves
//! through (`queued → sent → acked → succeeded | failed | expired`).
//!
//! Rules kept here:
//! - `seq` is the previous maximum for the meter plus one, unique per meter (a unique index):
//!   the next seq is computed in the same `INSERT ... SELECT` that inserts the row, under the
//!   meter's row lock on PostgreSQL; a conflict (another writer won the seq) draws again;
//! - a command in a final state (`succeeded`, `failed`, `expired`) never changes again, so a
//!   duplicated or late ack is harmless: every transition is a conditional `UPDATE` on the
//!   states it may leave;
//! - a resend keeps its seq (the agent then answers with its stored ack instead of executing
//!   twice); trying again after a failure is a new command with the next seq.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::entity::{command, meter};
use crate::page::{fetch, Page, Paged};
use crate::scope::Scope;
use crate::{outbox, CommandId, CommandState, MeterId, OrgId, StoreError, UserId};

/// A row of `commands`.
pub type Command = command::Model;

/// How often a seq may be taken by a concurrent writer before giving up.
const SEQ_ATTEMPTS: usize = 8;

/// What a command asks the meter to do; the same names as the MQTT contract's `action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandAction {
    Trip,
    Close,
    AlarmOn,
    AlarmOff,
    ReadNow,
    SyncTime,
    SetParams,
}

impl CommandAction {
    pub const ALL: [CommandAction; 7] = [
        Self::Trip,
        Self::Close,
        Self::AlarmOn,
        Self::AlarmOff,
        Self::ReadNow,
        Self::SyncTime,
        Self::SetParams,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trip => "trip",
            Self::Close => "close",
            Self::AlarmOn => "alarm_on",
            Self::AlarmOff => "alarm_off",
            Self::ReadNow => "read_now",
            Self::SyncTime => "sync_time",
            Self::SetParams => "set_params",
        }
    }

    /// The relay state (`open`/`closed`) a successful trip or close must read back.
    pub fn expected_relay(self) -> Option<&'static str> {
        match self {
            Self::Trip => Some("open"),
            Self::Close => Some("closed"),
            _ => None,
        }
    }
}

impl fmt::Display for CommandAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CommandAction {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| StoreError::Invalid(format!("unknown command action `{s}`")))
    }
}

impl Command {
    pub fn action(&self) -> Result<CommandAction, StoreError> {
        self.action.parse()
    }

    /// Whether the command is in a final state.
    pub fn is_final(&self) -> bool {
        is_final(self.state)
    }
}

/// Whether a state is final (never left again).
pub fn is_final(state: CommandState) -> bool {
    matches!(
        state,
        CommandState::Succeeded | CommandState::Failed | CommandState::Expired
    )
}

/// Queues a command for a meter of `org` with the meter's next seq and announces it to the
/// worker with an outbox `meter.command_queued` row, both in the caller's transaction.
pub async fn queue_command(
    txn: &DatabaseTransaction,
    scope: impl Into<Scope>,
    meter_id: MeterId,
    action: CommandAction,
    expires_at: DateTime<Utc>,
    requested_by: Option<UserId>,
) -> Result<Command, StoreError> {
    let scope = scope.into();
    let org = scope.org;
    let command = insert_command(txn, scope, meter_id, action, expires_at, requested_by).await?;
    outbox::enqueue(
        txn,
        Some(org),
        outbox::kind::COMMAND_QUEUED,
        serde_json::json!({ "command_id": command.id }),
    )
    .await?;
    Ok(command)
}

/// Inserts a queued command with the meter's next seq, without announcing it (the worker, which
/// publishes its own commands right after committing). The meter must belong to `org`.
pub async fn insert_command(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    meter_id: MeterId,
    action: CommandAction,
    expires_at: DateTime<Utc>,
    requested_by: Option<UserId>,
) -> Result<Command, StoreError> {
    let scope = scope.into();
    let org = scope.org;
    if !scope.is_whole_org() {
        // A site-limited caller: the meter must be under their sites.
        crate::meter::get(conn, scope, meter_id).await?;
    }
    // On PostgreSQL the meter's row lock queues concurrent writers of one meter, so the seq
    // below is normally free at the first try. SQLite serialises writers, and a read before
    // the first write would make its transaction fail to upgrade: it goes straight to the
    // single INSERT ... SELECT, which checks the meter's organization itself.
    if !crate::connection::is_sqlite(conn) && !meter_exists(conn, org, meter_id, true).await? {
        return Err(StoreError::NotFound);
    }
    let now = Utc::now();
    let (m, c) = (Alias::new("m"), Alias::new("c"));
    for _ in 0..SEQ_ATTEMPTS {
        let id = CommandId::new();
        let next_seq = Query::select()
            .expr(Expr::val(id))
            .expr(Expr::col((m.clone(), meter::Column::OrganizationId)))
            .expr(Expr::col((m.clone(), meter::Column::Id)))
            .expr(Expr::cust("COALESCE(MAX(c.seq), 0) + 1"))
            .expr(Expr::val(action.as_str()))
            .expr(Expr::val(CommandState::Queued.as_str()))
            .expr(Expr::val(0))
            .expr(Expr::val(now))
            .expr(Expr::val(expires_at))
            .expr(Expr::val(requested_by))
            .expr(Expr::val(now))
            .from_as(meter::Entity, m.clone())
            .left_join(
                sea_orm::sea_query::TableRef::TableAlias(
                    sea_orm::sea_query::SeaRc::new(command::Entity),
                    sea_orm::sea_query::SeaRc::new(c.clone()),
                ),
                Expr::col((c.clone(), command::Column::MeterId))
                    .equals((m.clone(), meter::Column::Id)),
            )
            .and_where(Expr::col((m.clone(), meter::Column::Id)).eq(meter_id))
            .and_where(Expr::col((m.clone(), meter::Column::OrganizationId)).eq(org))
            .group_by_col((m.clone(), meter::Column::Id))
            .group_by_col((m.clone(), meter::Column::OrganizationId))
            .to_owned();
        let insert = Query::insert()
            .into_table(command::Entity)
            .columns([
                command::Column::Id,
                command::Column::OrganizationId,
                command::Column::MeterId,
                command::Column::Seq,
                command::Column::Action,
                command::Column::State,
                command::Column::Attempts,
                command::Column::IssuedAt,
                command::Column::ExpiresAt,
                command::Column::RequestedBy,
                command::Column::NextAttemptAt,
            ])
            .select_from(next_seq)
            .map_err(|e| StoreError::Invalid(format!("command insert: {e}")))?
            .on_conflict(
                OnConflict::columns([command::Column::MeterId, command::Column::Seq])
                    .do_nothing()
                    .to_owned(),
            )
            .returning(Query::returning().column(Alias::new("id")))
            .to_owned();
        let stmt = conn.get_database_backend().build(&insert);
        if conn.query_one(stmt).await?.is_some() {
            return command::Entity::find_by_id(id)
                .one(conn)
                .await?
                .ok_or(StoreError::NotFound);
        }
        // Nothing inserted: another organization's (or no) meter, or a seq taken meanwhile.
        if !meter_exists(conn, org, meter_id, false).await? {
            return Err(StoreError::NotFound);
        }
    }
    Err(StoreError::Invalid(format!(
        "no free seq for meter {meter_id} after {SEQ_ATTEMPTS} attempts"
    )))
}

async fn meter_exists(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter_id: MeterId,
    lock: bool,
) -> Result<bool, StoreError> {
    let mut select = meter::Entity::find_by_id(meter_id)
        .filter(meter::Column::OrganizationId.eq(org))
        .select_only()
        .column(meter::Column::Id);
    if lock {
        select = select.lock_exclusive();
    }
    Ok(select.into_tuple::<MeterId>().one(conn).await?.is_some())
}

/// A command of `org`.
pub async fn get(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: CommandId,
) -> Result<Command, StoreError> {
    let scope = scope.into();
    command::Entity::find_by_id(id)
        .filter(scope.condition::<command::Entity>())
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// A command by the seq the agent answers with.
pub async fn find_by_seq(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter_id: MeterId,
    seq: i64,
) -> Result<Option<Command>, StoreError> {
    Ok(command::Entity::find()
        .filter(command::Column::OrganizationId.eq(org))
        .filter(command::Column::MeterId.eq(meter_id))
        .filter(command::Column::Seq.eq(seq))
        .one(conn)
        .await?)
}

/// The commands of a meter, newest first.
pub async fn list_for_meter(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    meter_id: MeterId,
    page: Page,
) -> Result<Paged<Command>, StoreError> {
    let scope = scope.into();
    let select = command::Entity::find()
        .filter(scope.condition::<command::Entity>())
        .filter(command::Column::MeterId.eq(meter_id))
        .order_by_desc(command::Column::Seq);
    fetch(conn, select, page).await
}

/// Commands to send or resend now, across organizations: the worker's retry sweep runs for
/// the whole platform (unscoped on purpose; each row carries its organization).
pub async fn due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Command>, StoreError> {
    Ok(command::Entity::find()
        .filter(command::Column::State.is_in([CommandState::Queued, CommandState::Sent]))
        .filter(command::Column::NextAttemptAt.lte(now))
        .order_by_asc(command::Column::NextAttemptAt)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Records a (re)send: `sent`, one more attempt, next try at `next_attempt_at`. Answers the
/// updated command, or `None` when it had already left `queued`/`sent` (acked meanwhile).
pub async fn mark_sent(
    conn: &impl ConnectionTrait,
    id: CommandId,
    now: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
) -> Result<Option<Command>, StoreError> {
    let rows = command::Entity::update_many()
        .col_expr(
            command::Column::State,
            Expr::value(CommandState::Sent.as_str()),
        )
        .col_expr(
            command::Column::Attempts,
            Expr::col(command::Column::Attempts).add(1),
        )
        .col_expr(command::Column::SentAt, Expr::value(now))
        .col_expr(command::Column::NextAttemptAt, Expr::value(next_attempt_at))
        .filter(command::Column::Id.eq(id))
        .filter(command::Column::State.is_in([CommandState::Queued, CommandState::Sent]))
        .exec_with_returning(conn)
        .await?;
    Ok(rows.into_iter().next())
}

/// Postpones the next send without counting an attempt (the gateway is offline).
pub async fn postpone(
    conn: &impl ConnectionTrait,
    id: CommandId,
    next_attempt_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    command::Entity::update_many()
        .col_expr(command::Column::NextAttemptAt, Expr::value(next_attempt_at))
        .filter(command::Column::Id.eq(id))
        .filter(command::Column::State.is_in([CommandState::Queued, CommandState::Sent]))
        .exec(conn)
        .await?;
    Ok(())
}

/// Moves a command to `to` from any non-final state, recording what the agent said. Answers
/// the updated command, or `None` when it was already final (a duplicated or late ack).
pub async fn transition(
    conn: &impl ConnectionTrait,
    id: CommandId,
    to: CommandState,
    relay: Option<&str>,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Command>, StoreError> {
    let mut update = command::Entity::update_many()
        .col_expr(command::Column::State, Expr::value(to.as_str()))
        .col_expr(command::Column::Relay, Expr::value(relay))
        .col_expr(command::Column::Detail, Expr::value(detail))
        .filter(command::Column::Id.eq(id))
        .filter(command::Column::State.is_in([
            CommandState::Queued,
            CommandState::Sent,
            CommandState::Acked,
        ]));
    if to == CommandState::Acked || is_final(to) {
        update = update.col_expr(command::Column::AckedAt, Expr::value(now));
    }
    if is_final(to) {
        update = update.col_expr(
            command::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        );
    }
    let rows = update.exec_with_returning(conn).await?;
    Ok(rows.into_iter().next())
}

/// Open (not final) commands of a meter, oldest first.
pub async fn open_for_meter(
    conn: &impl ConnectionTrait,
    org: OrgId,
    meter_id: MeterId,
) -> Result<Vec<Command>, StoreError> {
    Ok(command::Entity::find()
        .filter(command::Column::OrganizationId.eq(org))
        .filter(command::Column::MeterId.eq(meter_id))
        .filter(command::Column::State.is_in([
            CommandState::Queued,
            CommandState::Sent,
            CommandState::Acked,
        ]))
        .order_by_asc(command::Column::Seq)
        .all(conn)
        .await?)
}

impl CommandState {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandState::Queued => "queued",
            CommandState::Sent => "sent",
            CommandState::Acked => "acked",
            CommandState::Succeeded => "succeeded",
            CommandState::Failed => "failed",
            CommandState::Expired => "expired",
        }
    }
}
