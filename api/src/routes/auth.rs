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
