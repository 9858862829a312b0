//! Rotating refresh tokens. Only a hash of the token is stored. Each use replaces the token with
//! a new one of the same family; presenting a replaced token again means it leaked, and the api
//! revokes the whole family.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::entity::refresh_token;
use crate::error::map_unique;
use crate::{OrgId, RefreshToken, RefreshTokenId, StoreError, UserId};

#[derive(Clone, Debug)]
pub struct NewRefreshToken {
    pub user_id: UserId,
    pub organization_id: OrgId,
    pub family: Uuid,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &impl ConnectionTrait,
    new: NewRefreshToken,
) -> Result<RefreshToken, StoreError> {
    refresh_token::ActiveModel {
        id: Set(RefreshTokenId::new()),
        user_id: Set(new.user_id),
        organization_id: Set(new.organization_id),
        family: Set(new.family),
        token_hash: Set(new.token_hash),
        expires_at: Set(new.expires_at),
        revoked_at: Set(None),
        replaced_by: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await
    .map_err(map_unique)
}

/// The token with this hash, whatever its state (the caller checks expiry, revocation, reuse).
pub async fn find_by_hash(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<RefreshToken>, StoreError> {
    Ok(refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token_hash))
        .one(conn)
        .await?)
}

/// Marks `id` as rotated into `replaced_by`. Returns false when it was already replaced or
/// revoked, so two concurrent refreshes with one token cannot both succeed.
pub async fn mark_replaced(
    conn: &impl ConnectionTrait,
    id: RefreshTokenId,
    replaced_by: RefreshTokenId,
) -> Result<bool, StoreError> {
    let res = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::ReplacedBy, Expr::value(replaced_by))
        .filter(refresh_token::Column::Id.eq(id))
        .filter(refresh_token::Column::ReplacedBy.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revokes every not yet revoked token of a family; returns how many.
pub async fn revoke_family(conn: &impl ConnectionTrait, family: Uuid) -> Result<u64, StoreError> {
    let res = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::Family.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// Revokes every live refresh token of `user` in `org` (the member was disabled, or changed
/// their password); returns how many.
pub async fn revoke_for_member(
    conn: &impl ConnectionTrait,
    user: UserId,
    org: Option<OrgId>,
) -> Result<u64, StoreError> {
    let mut update = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::UserId.eq(user))
        .filter(refresh_token::Column::RevokedAt.is_null());
    if let Some(org) = org {
        update = update.filter(refresh_token::Column::OrganizationId.eq(org));
    }
    Ok(update.exec(conn).await?.rows_affected)
}
