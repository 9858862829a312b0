//! Organizations and their people: creating an organization with its first admin (the
//! `wattpay admin create-org` command and `POST /api/v1/orgs` share [`create_org`]), password
//! rules, and the single-use tokens of invitations and password resets.
//!
//! Tokens are 256 random bits shown once (in the API answer and the email); only their SHA-256
//! is stored. Nothing secret goes to the audit log.

use chrono::{DateTime, Duration, Utc};
use domain::Role;
use sea_orm::{DatabaseConnection, TransactionTrait as _};
use store::invitation::{Invitation, NewInvitation};
use store::{Organization, SiteId, User, UserId};

use crate::auth::password::hash_password;
use crate::auth::refresh::new_refresh_token;
use crate::error::ApiError;

/// Shortest password accepted (NIST SP 800-63B asks for at least 8; we ask 10).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (argon2 work grows with the input).
pub const MAX_PASSWORD_CHARS: usize = 200;
/// How long an invitation link works.
pub const INVITATION_TTL: Duration = Duration::days(7);
/// How long a password reset link works.
pub const RESET_TTL: Duration = Duration::hours(24);

/// `422 weak_password` unless the password has 10 to 200 characters.
pub fn check_password(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(ApiError::unprocessable(
            "weak_password",
            format!(
                "a password must have at least {MIN_PASSWORD_CHARS} characters \
                 (and at most {MAX_PASSWORD_CHARS})"
            ),
        ));
    }
    Ok(())
}

/// The canonical email, or `400 invalid_email`.
pub fn valid_email(email: &str) -> Result<String, ApiError> {
    let email = store::user::normalize_email(email);
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        })
        && !email.chars().any(char::is_whitespace);
    if ok {
        Ok(email)
    } else {
        Err(ApiError::bad_request(
            "invalid_email",
            "not an email address",
        ))
    }
}

/// A role an organization admin may give: not `platform_admin`, not `tenant`.
pub fn staff_role(role: &str) -> Result<Role, ApiError> {
    match role.parse::<Role>() {
        Ok(r @ (Role::OrgAdmin | Role::Operator | Role::Viewer | Role::Technician)) => Ok(r),
        _ => Err(ApiError::bad_request(
            "invalid_role",
            "role must be org_admin, operator, viewer or technician",
        )),
    }
}

/// A single-use token as shown once to whoever issued it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    /// The page that takes the token (`WATTPAY_PUBLIC_BASE_URL` + path + `?token=`).
    pub link: String,
    pub expires_at: DateTime<Utc>,
}

fn link(base_url: &str, path: &str, token: &str) -> String {
    format!("{}{path}?token={token}", base_url.trim_end_matches('/'))
}

/// What to create: an organization and its first admin, with a password or (without one) an
/// invitation the admin accepts.
#[derive(Debug, Clone)]
pub struct NewOrg {
    pub name: String,
    pub admin_email: String,
    pub admin_password: Option<String>,
}

/// The organization created, and its admin or the admin's invitation.
#[derive(Debug)]
pub struct CreatedOrg {
    pub org: Organization,
    pub admin: Option<User>,
    pub invitation: Option<(Invitation, IssuedToken)>,
}

/// Creates an organization and its first org admin in one transaction, audited as the
/// platform's act. `409 email_taken` when a user already has the email.
pub async fn create_org(
    db: &DatabaseConnection,
    base_url: &str,
    new: NewOrg,
    actor: Option<UserId>,
) -> Result<CreatedOrg, ApiError> {
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad_request(
            "invalid_name",
            "name must be 1 to 200 characters",
        ));
    }
    let email = valid_email(&new.admin_email)?;
    let hash = match &new.admin_password {
        Some(p) => {
            check_password(p)?;
            Some(hash_password(p)?)
        }
        None => None,
    };
    if store::user::find_user_by_email(db, &email).await?.is_some() {
        return Err(ApiError::conflict(
            "email_taken",
            format!("a user with email {email} already exists"),
        ));
    }
    let base_url = base_url.to_owned();
    db.transaction::<_, CreatedOrg, ApiError>(|txn| {
        Box::pin(async move {
            let org = store::organization::create_organization(txn, &name).await?;
            let mut created = CreatedOrg {
                org,
                admin: None,
                invitation: None,
            };
            let org_id = created.org.id;
            if let Some(hash) = hash {
                let user = store::user::create_user(
                    txn,
                    store::user::NewUser {
                        email: email.clone(),
                        password_hash: hash,
                        name: "Admin".to_owned(),
                        platform_admin: false,
                    },
                )
                .await
                .map_err(email_taken)?;
                store::user::add_membership(txn, org_id, user.id, Role::OrgAdmin).await?;
                created.admin = Some(user);
            } else {
                let (token, token_hash) = new_refresh_token();
                let expires_at = Utc::now() + INVITATION_TTL;
                let inv = store::invitation::create(
                    txn,
                    org_id,
                    NewInvitation {
                        email: email.clone(),
                        role: Role::OrgAdmin,
                        site_ids: None,
                        token_hash,
                        invited_by: actor,
                        expires_at,
                    },
                )
                .await?;
                let link = link(&base_url, "/accept-invitation", &token);
                created.invitation = Some((
                    inv,
                    IssuedToken {
                        token,
                        link,
                        expires_at,
                    },
                ));
            }
            store::audit::record(
                txn,
                Some(org_id),
                actor,
                "org.create",
                "organization",
                &org_id.to_string(),
                serde_json::json!({"after": {"name": created.org.name, "admin_email": email,
                    "admin": created.admin.as_ref().map(|u| u.id),
                    "invited": created.invitation.is_some()}}),
            )
            .await?;
            Ok(created)
        })
    })
    .await
    .map_err(Into::into)
}

fn email_taken(e: store::StoreError) -> ApiError {
    if e.is_duplicate() {
        ApiError::conflict("email_taken", "a user with this email already exists")
    } else {
        e.into()
    }
}

/// An invitation to create in the caller's organization.
#[derive(Debug, Clone)]
pub struct Invite {
    pub email: String,
    pub role: Role,
    pub site_ids: Option<Vec<SiteId>>,
}

/// Creates an invitation (in the caller's transaction) and answers the token to show once.
pub async fn invite(
    txn: &impl sea_orm::ConnectionTrait,
    base_url: &str,
    org: store::OrgId,
    invited_by: UserId,
    invite: Invite,
    now: DateTime<Utc>,
) -> Result<(Invitation, IssuedToken), ApiError> {
    let (token, token_hash) = new_refresh_token();
    let expires_at = now + INVITATION_TTL;
    let inv = store::invitation::create(
        txn,
        org,
        NewInvitation {
            email: invite.email,
            role: invite.role,
            site_ids: invite.site_ids,
            token_hash,
            invited_by: Some(invited_by),
            expires_at,
        },
    )
    .await
    .map_err(|e| ApiError::from_store(e, "site_not_found", "site"))?;
    let link = link(base_url, "/accept-invitation", &token);
    Ok((
        inv,
        IssuedToken {
            token,
            link,
            expires_at,
        },
    ))
}

/// Creates a password reset for a member (in the caller's transaction).
pub async fn issue_reset(
    txn: &impl sea_orm::ConnectionTrait,
    base_url: &str,
    org: store::OrgId,
    user: UserId,
    issued_by: UserId,
    now: DateTime<Utc>,
) -> Result<IssuedToken, ApiError> {
    let (token, token_hash) = new_refresh_token();
    let expires_at = now + RESET_TTL;
    store::invitation::create_reset(txn, org, user, token_hash, issued_by, expires_at).await?;
    let link = link(base_url, "/reset-password", &token);
    Ok(IssuedToken {
        token,
        link,
        expires_at,
    })
}
