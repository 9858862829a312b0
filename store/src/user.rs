//! Users (people who sign in to the dashboard) and their memberships in organizations.
//!
//! Emails are stored lowercase, so the unique index makes them case-insensitive. A user is not
//! organization-owned (one person may work for several organizations); what they may see is
//! decided by their memberships.

use chrono::Utc;
use domain::Role;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use crate::entity::{membership, user};
use crate::error::map_unique;
use crate::{OrgId, StoreError, User, UserId};

/// A user to create. `password_hash` is already hashed (argon2) by the caller.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub platform_admin: bool,
}

/// One organization a user belongs to, with their role there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub organization_id: OrgId,
    pub role: Role,
}

/// The canonical form of an email address: trimmed and lowercase.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Creates a user; [`StoreError::Duplicate`] when the email is taken.
pub async fn create_user(conn: &impl ConnectionTrait, new: NewUser) -> Result<User, StoreError> {
    let email = normalize_email(&new.email);
    if !email.contains('@') {
        return Err(StoreError::Invalid(format!(
            "not an email address: {email}"
        )));
    }
    user::ActiveModel {
        id: Set(UserId::new()),
        email: Set(email),
        password_hash: Set(new.password_hash),
        name: Set(new.name),
        platform_admin: Set(new.platform_admin),
        disabled: Set(false),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await
    .map_err(map_unique)
}

/// The user with this email, in any case.
pub async fn find_user_by_email(
    conn: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<User>, StoreError> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(normalize_email(email)))
        .one(conn)
        .await?)
}

pub async fn get_user(conn: &impl ConnectionTrait, id: UserId) -> Result<User, StoreError> {
    user::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Gives `user` a role in `org`; [`StoreError::Duplicate`] when they already have one there.
pub async fn add_membership(
    conn: &impl ConnectionTrait,
    org: OrgId,
    user: UserId,
    role: Role,
) -> Result<Membership, StoreError> {
    membership::ActiveModel {
        user_id: Set(user),
        organization_id: Set(org),
        role: Set(role.as_str().to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await
    .map_err(map_unique)?;
    Ok(Membership {
        organization_id: org,
        role,
    })
}

/// Every organization the user belongs to, oldest membership first.
pub async fn memberships_of(
    conn: &impl ConnectionTrait,
    user: UserId,
) -> Result<Vec<Membership>, StoreError> {
    membership::Entity::find()
        .filter(membership::Column::UserId.eq(user))
        .order_by_asc(membership::Column::CreatedAt)
        .all(conn)
        .await?
        .into_iter()
        .map(|m| {
            let role = m
                .role
                .parse::<Role>()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            Ok(Membership {
                organization_id: m.organization_id,
                role,
            })
        })
        .collect()
}
