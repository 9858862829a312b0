//! Sign-in and refresh-token rotation.
//!
//! A refresh token is 256 random bits shown to the client once; only its SHA-256 is stored.
//! Each refresh replaces the token with a new one of the same family; presenting a token that
//! was already replaced means it leaked (or a client raced itself), so the whole family is
//! revoked and the user must sign in again (OAuth 2.0 security BCP, refresh token rotation).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore as _;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use sha2::{Digest, Sha256};
use store::ids::UserId;
use store::user::Membership;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{password, TokenKeys};
use crate::error::ApiError;

/// What a successful sign-in or refresh answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque, single-use token for `POST /api/v1/auth/refresh`.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: &'static str,
}

fn invalid_credentials() -> ApiError {
    // One answer for unknown email, wrong password and disabled user: no account enumeration.
    ApiError::unauthorized("invalid_credentials", "wrong email or password")
}

/// A fresh 256-bit token (URL-safe base64) and its stored hash; also used for invitations and
/// password resets.
pub(crate) fn new_refresh_token() -> (String, String) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let hash = hash_token(&token);
    (token, hash)
}

/// The SHA-256 of a token as stored.
pub(crate) fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// Signs a manager in with email and password. With several memberships the caller may name
/// the organization; otherwise the oldest membership is used.
pub async fn login(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    refresh_ttl: std::time::Duration,
    email: &str,
    password_plain: &str,
    organization: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<TokenPair, ApiError> {
    let Some(user) = store::user::find_user_by_email(db, email).await? else {
        password::verify_dummy(password_plain);
        return Err(invalid_credentials());
    };
    if !password::verify_password(password_plain, &user.password_hash) || user.disabled {
        return Err(invalid_credentials());
    }
    let memberships = store::user::memberships_of(db, user.id).await?;
    let membership = match organization {
        Some(org) => memberships
            .iter()
            .find(|m| Uuid::from(m.organization_id) == org),
        None => memberships
            .iter()
            .find(|m| !m.disabled)
            .or_else(|| memberships.first()),
    }
    .ok_or_else(|| ApiError::Forbidden)?;
    if membership.disabled {
        // A member their organization disabled: the same answer as a wrong password.
        return Err(invalid_credentials());
    }
    issue_pair(
        db,
        keys,
        refresh_ttl,
        user.id,
        membership,
        Uuid::now_v7(),
        now,
    )
    .await
}

async fn issue_pair(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    refresh_ttl: std::time::Duration,
    user: UserId,
    membership: &Membership,
    family: Uuid,
    now: DateTime<Utc>,
) -> Result<TokenPair, ApiError> {
    let org = membership.organization_id;
    let access_token = keys.issue_limited(
        user.into(),
        org.into(),
        membership.role,
        membership.site_limited,
        now,
    )?;
    let (refresh_token, token_hash) = new_refresh_token();
    let ttl = chrono::Duration::from_std(refresh_ttl).map_err(anyhow::Error::from)?;
    store::refresh_token::insert(
        db,
        store::refresh_token::NewRefreshToken {
            user_id: user,
            organization_id: org,
            family,
            token_hash,
            expires_at: now + ttl,
        },
    )
    .await?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        expires_in: keys.access_ttl().as_secs(),
        token_type: "Bearer",
    })
}

/// Exchanges a refresh token for a new pair; the old token stops working.
pub async fn refresh(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    refresh_ttl: std::time::Duration,
    token: &str,
    now: DateTime<Utc>,
) -> Result<TokenPair, ApiError> {
    let invalid = || ApiError::unauthorized("invalid_refresh_token", "sign in again");
    let Some(stored) = store::refresh_token::find_by_hash(db, &hash_token(token)).await? else {
        return Err(invalid());
    };
    if stored.replaced_by.is_some() {
        tracing::warn!(family = %stored.family, "refresh token reused: revoking its family");
        store::refresh_token::revoke_family(db, stored.family).await?;
        return Err(invalid());
    }
    if stored.revoked_at.is_some() || stored.expires_at <= now {
        return Err(invalid());
    }
    // The membership may have changed since sign-in: the new access token carries today's role.
    let memberships = store::user::memberships_of(db, stored.user_id).await?;
    let Some(membership) = memberships
        .iter()
        .find(|m| m.organization_id == stored.organization_id)
    else {
        store::refresh_token::revoke_family(db, stored.family).await?;
        return Err(invalid());
    };
    let user = store::user::get_user(db, stored.user_id).await?;
    if user.disabled || membership.disabled {
        store::refresh_token::revoke_family(db, stored.family).await?;
        return Err(invalid());
    }
    let pair = issue_pair(
        db,
        keys,
        refresh_ttl,
        stored.user_id,
        membership,
        stored.family,
        now,
    )
    .await?;
    let new = store::refresh_token::find_by_hash(db, &hash_token(&pair.refresh_token))
        .await?
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("refresh token just inserted is gone"))
        })?;
    if !store::refresh_token::mark_replaced(db, stored.id, new.id).await? {
        // Another request rotated this token at the same moment: one of the two is a thief.
        store::refresh_token::revoke_family(db, stored.family).await?;
        return Err(invalid());
    }
    Ok(pair)
}

/// Revokes the family of a refresh token (sign out everywhere that token reached).
pub async fn logout(db: &DatabaseConnection, token: &str) -> Result<(), ApiError> {
    if let Some(stored) = store::refresh_token::find_by_hash(db, &hash_token(token)).await? {
        store::refresh_token::revoke_family(db, stored.family).await?;
    }
    Ok(())
}
