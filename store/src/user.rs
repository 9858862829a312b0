//! Users (people who sign in to the dashboard) and their memberships in organizations.
//!
//! Emails are stored lowercase, so the unique index makes them case-insensitive. A user is not
//! organization-owned (one person may work for several organizations); what they may see is
//! decided by their memberships.

use chrono::Utc;
use domain::Role;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use crate::entity::{membership, membership_site, user};
use crate::error::map_unique;
use crate::{OrgId, Page, Paged, SiteId, StoreError, User, UserId};

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
    /// A disabled member cannot sign in to this organization.
    pub disabled: bool,
    /// The member sees only the sites listed for them (see [`crate::scope`]).
    pub site_limited: bool,
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
        disabled: Set(false),
        site_limited: Set(false),
    }
    .insert(conn)
    .await
    .map_err(map_unique)?;
    Ok(Membership {
        organization_id: org,
        role,
        disabled: false,
        site_limited: false,
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
        .map(|m| membership_of(&m))
        .collect()
}

fn membership_of(m: &membership::Model) -> Result<Membership, StoreError> {
    let role = m
        .role
        .parse::<Role>()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(Membership {
        organization_id: m.organization_id,
        role,
        disabled: m.disabled,
        site_limited: m.site_limited,
    })
}

/// A user as their organization's admins see them: the person and their membership there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Member {
    pub user: User,
    pub membership: Membership,
    /// The sites a site-limited member may see; `None` for every site.
    pub site_ids: Option<Vec<SiteId>>,
    pub joined_at: chrono::DateTime<Utc>,
}

/// The organization's members, oldest first; of one role when given.
pub async fn list_members(
    conn: &impl ConnectionTrait,
    org: OrgId,
    role: Option<Role>,
    page: Page,
) -> Result<Paged<Member>, StoreError> {
    let mut select = membership::Entity::find().filter(membership::Column::OrganizationId.eq(org));
    if let Some(role) = role {
        select = select.filter(membership::Column::Role.eq(role.as_str()));
    }
    let select = select
        .order_by_asc(membership::Column::CreatedAt)
        .order_by_asc(membership::Column::UserId);
    let paged = crate::page::fetch(conn, select, page).await?;
    let mut items = Vec::with_capacity(paged.items.len());
    for m in paged.items {
        items.push(member_of(conn, m).await?);
    }
    Ok(Paged {
        items,
        total: paged.total,
    })
}

async fn member_of(
    conn: &impl ConnectionTrait,
    m: membership::Model,
) -> Result<Member, StoreError> {
    let user = get_user(conn, m.user_id).await?;
    let site_ids = if m.site_limited {
        Some(
            membership_site::Entity::find()
                .filter(membership_site::Column::UserId.eq(m.user_id))
                .filter(membership_site::Column::OrganizationId.eq(m.organization_id))
                .order_by_asc(membership_site::Column::SiteId)
                .all(conn)
                .await?
                .into_iter()
                .map(|s| s.site_id)
                .collect(),
        )
    } else {
        None
    };
    Ok(Member {
        membership: membership_of(&m)?,
        joined_at: m.created_at,
        user,
        site_ids,
    })
}

/// A member of the organization; a user without a membership there is `NotFound`.
pub async fn get_member(
    conn: &impl ConnectionTrait,
    org: OrgId,
    user: UserId,
) -> Result<Member, StoreError> {
    let m = membership::Entity::find_by_id((user, org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    member_of(conn, m).await
}

/// Changes to a membership; `None` fields stay. `site_ids: Some(None)` lifts the site limit.
#[derive(Clone, Debug, Default)]
pub struct MemberChanges {
    pub role: Option<Role>,
    pub site_ids: Option<Option<Vec<SiteId>>>,
    pub disabled: Option<bool>,
}

/// Applies `changes` to a member of `org`. Listed sites must be the organization's (else
/// `NotFound`).
pub async fn update_member(
    conn: &impl ConnectionTrait,
    org: OrgId,
    user: UserId,
    changes: MemberChanges,
) -> Result<Member, StoreError> {
    let m = membership::Entity::find_by_id((user, org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut row: membership::ActiveModel = m.into();
    if let Some(role) = changes.role {
        row.role = Set(role.as_str().to_owned());
    }
    if let Some(disabled) = changes.disabled {
        row.disabled = Set(disabled);
    }
    if let Some(sites) = changes.site_ids {
        row.site_limited = Set(sites.is_some());
        set_sites(conn, org, user, sites.as_deref().unwrap_or_default()).await?;
    }
    let m = row.update(conn).await?;
    member_of(conn, m).await
}

/// Replaces the member's site list (checked to be the organization's sites).
async fn set_sites(
    conn: &impl ConnectionTrait,
    org: OrgId,
    user: UserId,
    sites: &[SiteId],
) -> Result<(), StoreError> {
    membership_site::Entity::delete_many()
        .filter(membership_site::Column::UserId.eq(user))
        .filter(membership_site::Column::OrganizationId.eq(org))
        .exec(conn)
        .await?;
    let mut seen = std::collections::BTreeSet::new();
    for &site_id in sites {
        if !seen.insert(site_id) {
            continue;
        }
        crate::site::get(conn, org, site_id).await?;
        membership_site::ActiveModel {
            user_id: Set(user),
            organization_id: Set(org),
            site_id: Set(site_id),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// How many enabled org admins the organization has.
pub async fn count_active_admins(
    conn: &impl ConnectionTrait,
    org: OrgId,
) -> Result<u64, StoreError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(org))
        .filter(membership::Column::Role.eq(Role::OrgAdmin.as_str()))
        .filter(membership::Column::Disabled.eq(false))
        .count(conn)
        .await?)
}

/// Stores a new password hash (argon2, hashed by the caller).
pub async fn set_password_hash(
    conn: &impl ConnectionTrait,
    user: UserId,
    hash: String,
) -> Result<(), StoreError> {
    let row = get_user(conn, user).await?;
    let mut row: user::ActiveModel = row.into();
    row.password_hash = Set(hash);
    row.update(conn).await?;
    Ok(())
}
