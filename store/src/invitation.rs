//! Invitations (an org admin asks someone to join with a role) and password resets (an org admin
//! issues a one-time link for a member). Both are single-use tokens with an expiry; only the
//! token's SHA-256 is stored, and using one is a conditional update, so two requests with the
//! same token cannot both succeed.

use chrono::{DateTime, Utc};
use domain::Role;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::entity::{invitation, password_reset};
use crate::error::map_unique;
use crate::user::normalize_email;
use crate::{InvitationId, OrgId, PasswordResetId, SiteId, StoreError, UserId};

/// An invitation row.
pub type Invitation = invitation::Model;
/// A password reset row.
pub type PasswordReset = password_reset::Model;

/// An invitation to create.
#[derive(Clone, Debug)]
pub struct NewInvitation {
    pub email: String,
    pub role: Role,
    /// The sites the new member will be limited to; `None` for every site.
    pub site_ids: Option<Vec<SiteId>>,
    pub token_hash: String,
    pub invited_by: Option<UserId>,
    pub expires_at: DateTime<Utc>,
}

/// Creates an invitation in `org`. Listed sites must be the organization's (else `NotFound`).
pub async fn create(
    conn: &impl ConnectionTrait,
    org: OrgId,
    new: NewInvitation,
) -> Result<Invitation, StoreError> {
    if let Some(sites) = &new.site_ids {
        for &site in sites {
            crate::site::get(conn, org, site).await?;
        }
    }
    let site_ids = new
        .site_ids
        .map(|s| serde_json::to_string(&s))
        .transpose()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    invitation::ActiveModel {
        id: Set(InvitationId::new()),
        organization_id: Set(org),
        email: Set(normalize_email(&new.email)),
        role: Set(new.role.as_str().to_owned()),
        site_ids: Set(site_ids),
        token_hash: Set(new.token_hash),
        expires_at: Set(new.expires_at),
        accepted_at: Set(None),
        created_by: Set(new.invited_by),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await
    .map_err(map_unique)
}

/// The invitation with this token hash, whatever its state.
pub async fn find_invitation(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<Invitation>, StoreError> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(token_hash))
        .one(conn)
        .await?)
}

/// Marks an invitation accepted; false when it already was (a concurrent use).
pub async fn mark_accepted(
    conn: &impl ConnectionTrait,
    id: InvitationId,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

impl invitation::Model {
    /// The invited role.
    pub fn role(&self) -> Result<Role, StoreError> {
        self.role
            .parse()
            .map_err(|e: domain::role::UnknownRole| StoreError::Invalid(e.to_string()))
    }

    /// The sites the invited member will be limited to; `None` for every site.
    pub fn sites(&self) -> Result<Option<Vec<SiteId>>, StoreError> {
        self.site_ids
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::Invalid(e.to_string()))
    }
}

/// Creates a password reset for `user`, issued by an admin of `org`.
pub async fn create_reset(
    conn: &impl ConnectionTrait,
    org: OrgId,
    user: UserId,
    token_hash: String,
    issued_by: UserId,
    expires_at: DateTime<Utc>,
) -> Result<PasswordReset, StoreError> {
    password_reset::ActiveModel {
        id: Set(PasswordResetId::new()),
        user_id: Set(user),
        organization_id: Set(org),
        token_hash: Set(token_hash),
        issued_by: Set(issued_by),
        expires_at: Set(expires_at),
        used_at: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await
    .map_err(map_unique)
}

/// The password reset with this token hash, whatever its state.
pub async fn find_reset(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<PasswordReset>, StoreError> {
    Ok(password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(token_hash))
        .one(conn)
        .await?)
}

/// Marks a reset used; false when it already was.
pub async fn mark_reset_used(
    conn: &impl ConnectionTrait,
    id: PasswordResetId,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::Id.eq(id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}
