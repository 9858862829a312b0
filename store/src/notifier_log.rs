//! The log of messages sent to people. Its dedup key is unique, so a message is sent at most
//! once per key (one alarm per transition, not per reading) whatever the retries: the sender
//! claims the key first and sends only when the claim was new, or when the earlier attempt
//! under that key failed (a failure stays recorded, with its error, until a retry succeeds) or
//! was abandoned by a worker that died while sending.

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::entity::notification;
use crate::{AccountId, OrgId, StoreError};

/// A row of `notifications`.
pub type SentNotification = notification::Model;

/// A claim still `sending` after this long belongs to a sender that died mid-send (a send
/// gives up after seconds): it may be claimed again.
const STALE_CLAIM: chrono::Duration = chrono::Duration::minutes(5);

/// Claims `dedup_key`; answers false when a message with that key was already sent (or is
/// being sent). A `failed` row is claimed again (the retry of a provider error), and so is a
/// claim left `sending` by a worker that died mid-send: after a crash a message may go twice
/// (if the provider had it already) rather than never.
pub async fn claim(
    conn: &impl ConnectionTrait,
    org: OrgId,
    dedup_key: &str,
    account: Option<AccountId>,
    kind: &str,
    channel: &str,
    recipient: &str,
) -> Result<bool, StoreError> {
    let now = Utc::now();
    let row = notification::ActiveModel {
        organization_id: Set(org),
        dedup_key: Set(dedup_key.to_owned()),
        account_id: Set(account),
        kind: Set(kind.to_owned()),
        channel: Set(channel.to_owned()),
        recipient: Set(recipient.to_owned()),
        status: Set("sending".into()),
        error: Set(None),
        created_at: Set(now),
        ..Default::default()
    };
    let res = notification::Entity::insert(row)
        .on_conflict(
            OnConflict::column(notification::Column::DedupKey)
                .update_columns([
                    notification::Column::Status,
                    notification::Column::Error,
                    notification::Column::Recipient,
                    notification::Column::CreatedAt,
                ])
                .action_and_where(
                    Expr::col((notification::Entity, notification::Column::Status))
                        .eq("failed")
                        .or(
                            Expr::col((notification::Entity, notification::Column::Status))
                                .eq("sending")
                                .and(
                                    Expr::col((
                                        notification::Entity,
                                        notification::Column::CreatedAt,
                                    ))
                                    .lt(now - STALE_CLAIM),
                                ),
                        ),
                )
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await;
    match res {
        Ok(n) => Ok(n == 1),
        Err(sea_orm::DbErr::RecordNotInserted) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Records the outcome of a claimed message: `sent`, or `failed` with the error (which a
/// retry may claim again).
pub async fn finish(
    conn: &impl ConnectionTrait,
    dedup_key: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    if let Some(error) = error {
        tracing::warn!(dedup_key, error, "notification failed");
    }
    notification::Entity::update_many()
        .col_expr(
            notification::Column::Status,
            Expr::value(if error.is_some() { "failed" } else { "sent" }),
        )
        .col_expr(
            notification::Column::Error,
            Expr::value(error.map(str::to_owned)),
        )
        .filter(notification::Column::DedupKey.eq(dedup_key))
        .exec(conn)
        .await?;
    Ok(())
}

/// The log row of `dedup_key`, if any (what was sent, or why it failed).
pub async fn find(
    conn: &impl ConnectionTrait,
    org: OrgId,
    dedup_key: &str,
) -> Result<Option<SentNotification>, StoreError> {
    Ok(notification::Entity::find()
        .filter(notification::Column::OrganizationId.eq(org))
        .filter(notification::Column::DedupKey.eq(dedup_key))
        .one(conn)
        .await?)
}

/// Messages sent about an account, oldest first.
pub async fn of_account(
    conn: &impl ConnectionTrait,
    org: OrgId,
    account: AccountId,
) -> Result<Vec<SentNotification>, StoreError> {
    Ok(notification::Entity::find()
        .filter(notification::Column::OrganizationId.eq(org))
        .filter(notification::Column::AccountId.eq(account))
        .order_by_asc(notification::Column::Id)
        .all(conn)
        .await?)
}
