//! Manager sign-in: `POST /api/v1/auth/login`, `/refresh`, `/logout`, and `GET /api/v1/me`.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::refresh::{self as session, TokenPair};
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::startup::AppState;

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Which organization to act in, for users with several memberships.
    pub organization_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// The caller as the token says.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub role: String,
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    use crate::rate_limit::{client_address, hit, limited};
    let body = body.into_inner();
    let address = client_address(&req, state.settings.trust_forwarded_for);
    hit(&state.limits.login_address, &address)?;
    // Failures count per email whether or not the email exists, so the limit reveals nothing.
    let account = store::user::normalize_email(&body.email);
    let now = std::time::Instant::now();
    state
        .limits
        .login_account
        .check(&account, now)
        .map_err(limited)?;
    let result = session::login(
        &state.db,
        &state.keys,
        state.settings.refresh_token_ttl(),
        body.email.trim(),
        &body.password,
        body.organization_id,
        chrono::Utc::now(),
    )
    .await;
    if matches!(result, Err(ApiError::Unauthorized { .. })) {
        let _ = state.limits.login_account.hit(&account, now);
    }
    Ok(HttpResponse::Ok().json(result?))
}

/// Exchange a refresh token for a new token pair (the old refresh token stops working).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 401, description = "`invalid_refresh_token`", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let pair = session::refresh(
        &state.db,
        &state.keys,
        state.settings.refresh_token_ttl(),
        &body.refresh_token,
        chrono::Utc::now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// Sign out: revokes the refresh token and every token rotated from it.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204)))]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    session::logout(&state.db, &body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who am I: the user, organization and role of the access token.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, body = Me),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/me")]
pub async fn me(ctx: OrgContext) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        user_id: ctx.user_id.into(),
        organization_id: ctx.org_id.into(),
        role: ctx.role.as_str().to_owned(),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    pub token: String,
    /// At least 10 characters. For a person who already has an account (in another
    /// organization), their current password.
    pub password: String,
    pub name: Option<String>,
}

/// The membership an accepted invitation created.
#[derive(Serialize, ToSchema)]
pub struct Joined {
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub role: String,
}

fn invitation_invalid() -> ApiError {
    ApiError::bad_request("invalid_invitation", "this invitation link is not valid")
}

/// Accept an invitation: creates the user (or, for an existing user, checks their password) and
/// their membership. The token works once.
#[utoipa::path(post, path = "/api/v1/auth/accept-invitation", tag = "auth", request_body = AcceptInvitation,
    responses(
        (status = 201, body = Joined),
        (status = 400, description = "`invalid_invitation`, `invitation_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials` (existing user, wrong password)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invitation_used`, `already_member`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`weak_password`", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/auth/accept-invitation")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    body: web::Json<AcceptInvitation>,
) -> Result<HttpResponse, ApiError> {
    use sea_orm::TransactionTrait as _;
    let body = body.into_inner();
    let now = chrono::Utc::now();
    let hash = session::hash_token(body.token.trim());
    let inv = store::invitation::find_invitation(&state.db, &hash)
        .await?
        .ok_or_else(invitation_invalid)?;
    if inv.accepted_at.is_some() {
        return Err(ApiError::conflict(
            "invitation_used",
            "this invitation was already accepted",
        ));
    }
    if inv.expires_at <= now {
        return Err(ApiError::bad_request(
            "invitation_expired",
            "this invitation has expired; ask for a new one",
        ));
    }
    let role = inv.role()?;
    let sites = inv.sites()?;
    let existing = store::user::find_user_by_email(&state.db, &inv.email).await?;
    let new_hash = if let Some(user) = &existing {
        if !crate::auth::password::verify_password(&body.password, &user.password_hash) {
            return Err(ApiError::unauthorized(
                "invalid_credentials",
                "wrong email or password",
            ));
        }
        None
    } else {
        crate::service::identity::check_password(&body.password)?;
        Some(crate::auth::password::hash_password(&body.password)?)
    };
    let name = body
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| inv.email.split('@').next().unwrap_or_default().to_owned());
    let joined = state
        .db
        .transaction::<_, Joined, ApiError>(|txn| {
            Box::pin(async move {
                if !store::invitation::mark_accepted(txn, inv.id, now).await? {
                    return Err(ApiError::conflict(
                        "invitation_used",
                        "this invitation was already accepted",
                    ));
                }
                let user = match (existing, new_hash) {
                    (Some(user), _) => user,
                    (None, Some(password_hash)) => {
                        store::user::create_user(
                            txn,
                            store::user::NewUser {
                                email: inv.email.clone(),
                                password_hash,
                                name,
                                platform_admin: false,
                            },
                        )
                        .await?
                    }
                    (None, None) => {
                        return Err(ApiError::Internal(anyhow::anyhow!("no password hash")))
                    }
                };
                store::user::add_membership(txn, inv.organization_id, user.id, role)
                    .await
                    .map_err(|e| {
                        if e.is_duplicate() {
                            ApiError::conflict(
                                "already_member",
                                "you are already a member of this organization",
                            )
                        } else {
                            e.into()
                        }
                    })?;
                if sites.is_some() {
                    store::user::update_member(
                        txn,
                        inv.organization_id,
                        user.id,
                        store::user::MemberChanges {
                            site_ids: Some(sites.clone()),
                            ..Default::default()
                        },
                    )
                    .await?;
                }
                store::audit::record(
                    txn,
                    Some(inv.organization_id),
                    Some(user.id),
                    "user.join",
                    "user",
                    &user.id.to_string(),
                    serde_json::json!({"after": {"invitation": inv.id, "email": inv.email,
                        "role": role.as_str(), "site_ids": sites}}),
                )
                .await?;
                Ok(Joined {
                    user_id: user.id.into(),
                    organization_id: inv.organization_id.into(),
                    role: role.as_str().to_owned(),
                })
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(joined))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    pub token: String,
    /// At least 10 characters.
    pub password: String,
}

/// Set a new password with a reset link an org admin issued. Signs the user out everywhere.
#[utoipa::path(post, path = "/api/v1/auth/reset-password", tag = "auth", request_body = ResetPassword,
    responses(
        (status = 204),
        (status = 400, description = "`invalid_reset_token`, `reset_token_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reset_token_used`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`weak_password`", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/auth/reset-password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    body: web::Json<ResetPassword>,
) -> Result<HttpResponse, ApiError> {
    use sea_orm::TransactionTrait as _;
    let body = body.into_inner();
    let now = chrono::Utc::now();
    let reset = store::invitation::find_reset(&state.db, &session::hash_token(body.token.trim()))
        .await?
        .ok_or_else(|| {
            ApiError::bad_request("invalid_reset_token", "this reset link is not valid")
        })?;
    let used = || ApiError::conflict("reset_token_used", "this reset link was already used");
    if reset.used_at.is_some() {
        return Err(used());
    }
    if reset.expires_at <= now {
        return Err(ApiError::bad_request(
            "reset_token_expired",
            "this reset link has expired; ask your admin for a new one",
        ));
    }
    crate::service::identity::check_password(&body.password)?;
    let hash = crate::auth::password::hash_password(&body.password)?;
    state
        .db
        .transaction::<_, (), ApiError>(|txn| {
            Box::pin(async move {
                if !store::invitation::mark_reset_used(txn, reset.id, now).await? {
                    return Err(used());
                }
                store::user::set_password_hash(txn, reset.user_id, hash).await?;
                store::refresh_token::revoke_for_member(txn, reset.user_id, None).await?;
                store::audit::record(
                    txn,
                    Some(reset.organization_id),
                    Some(reset.user_id),
                    "user.password_reset_used",
                    "user",
                    &reset.user_id.to_string(),
                    serde_json::json!({"reset": reset.id}),
                )
                .await?;
                Ok(())
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    /// At least 10 characters.
    pub new_password: String,
}

/// Change the signed-in user's password. Their refresh tokens stop working (sign in again on
/// other devices).
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePassword,
    responses(
        (status = 204),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`wrong_password`, `weak_password`", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/auth/password")]
pub async fn change_password(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<ChangePassword>,
) -> Result<HttpResponse, ApiError> {
    use sea_orm::TransactionTrait as _;
    let body = body.into_inner();
    let user = store::user::get_user(&state.db, ctx.user_id).await?;
    if !crate::auth::password::verify_password(&body.current_password, &user.password_hash) {
        return Err(ApiError::unprocessable(
            "wrong_password",
            "the current password is wrong",
        ));
    }
    crate::service::identity::check_password(&body.new_password)?;
    let hash = crate::auth::password::hash_password(&body.new_password)?;
    state
        .db
        .transaction::<_, (), ApiError>(|txn| {
            Box::pin(async move {
                store::user::set_password_hash(txn, ctx.user_id, hash).await?;
                store::refresh_token::revoke_for_member(txn, ctx.user_id, None).await?;
                ctx.audit(
                    txn,
                    "user.password_change",
                    "user",
                    ctx.user_id,
                    serde_json::json!({}),
                )
                .await
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
