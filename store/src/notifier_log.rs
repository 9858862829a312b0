//! The log of messages sent to people. Its dedup key is unique, so a message is sent at most
//! once per key (one alarm per transition, not per reading) whatever the retries: the sender
//! claims the key first and sends only when the claim was new.

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::entity::notification;
use crate::{AccountId, OrgId, StoreError};

/// A row of `notifications`.
pub type SentNotification = notification::Model;

/// Claims `dedup_key`; answers false when a message with that key was already sent (or is
/// being sent).
pub async fn claim(
    conn: &impl ConnectionTrait,
    org: OrgId,
    dedup_key: &str,
    account: Option<AccountId>,
    kind: &str,
    channel: &str,
    recipient: &str,
) -> Result<bool, StoreError> {
    let row = notification::ActiveModel {
        organization_id: Set(org),
        dedup_key: Set(dedup_key.to_owned()),
        account_id: Set(account),
        kind: Set(kind.to_owned()),
        channel: Set(channel.to_owned()),
        recipient: Set(recipient.to_owned()),
        status: Set("sending".into()),
        error: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let res = notification::Entity::insert(row)
        .on_conflict(
            OnConflict::column(notification::Column::DedupKey)
                .do_nothing()
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

/// Records the outcome of a claimed message: `sent`, or `failed` with the error. A failed
/// claim is released (deleted) so a retry may send it.
pub async fn finish(
    conn: &impl ConnectionTrait,
    dedup_key: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    if let Some(error) = error {
        tracing::warn!(
            dedup_key,
            error,
            "notification failed; released for a retry"
        );
        notification::Entity::delete_many()
            .filter(notification::Column::DedupKey.eq(dedup_key))
            .exec(conn)
            .await?;
    } else {
        notification::Entity::update_many()
            .col_expr(notification::Column::Status, Expr::value("sent"))
            .filter(notification::Column::DedupKey.eq(dedup_key))
            .exec(conn)
            .await?;
    }
    Ok(())
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
