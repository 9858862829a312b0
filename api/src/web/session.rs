//! The manager's browser session: the same access JWT the REST API takes, kept in an HttpOnly,
//! `SameSite=Lax` cookie, with the rotating refresh token in a second cookie; `/login` and
//! `/logout`.
//!
//! Rules it keeps: sign-in and sign-out go through `auth::refresh` exactly as the REST API's
//! (no second password check); an expired access token is renewed with the refresh token on the
//! next page load; every form post carries the double-submit CSRF token; after sign-in only a
//! local path is followed (no open redirect).

use actix_web::cookie::{time, Cookie};
use actix_web::{dev::Payload, get, post, web, FromRequest, HttpRequest, HttpResponse};
use domain::Role;
use futures_util::future::LocalBoxFuture;
use minijinja::context;
use serde::Deserialize;
use store::ids::{OrgId, UserId};

use super::page::{cookie, Web, WebError};
use crate::auth::refresh::{self, TokenPair};
use crate::error::ApiError;
use crate::startup::AppState;

/// The access token cookie.
pub const ACCESS_COOKIE: &str = "wp_session";
/// The refresh token cookie.
pub const REFRESH_COOKIE: &str = "wp_refresh";

/// The signed-in manager.
#[derive(Clone, Copy, Debug)]
pub struct Session {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub role: Role,
    /// Limited to some sites (`OrgContext::scope`).
    pub site_limited: bool,
}

impl Session {
    /// Whether the role may take money or switch power (not viewers).
    pub fn may_act(&self) -> bool {
        matches!(self.role, Role::OrgAdmin | Role::Operator)
    }

    /// The same caller as the REST API's extractor gives its handlers, for the service
    /// functions both call.
    pub fn ctx(&self) -> crate::auth::OrgContext {
        crate::auth::OrgContext {
            user_id: self.user_id,
            org_id: self.org_id,
            role: self.role,
            site_limited: self.site_limited,
        }
    }

    /// Whether the role is a supervisor's (users, audit log, adjustments, settings).
    pub fn is_admin(&self) -> bool {
        matches!(self.role, Role::OrgAdmin | Role::PlatformAdmin)
    }
}

/// The session from the cookies, renewing an expired access token; plus the cookies to set.
pub(super) async fn from_cookies(
    req: &HttpRequest,
    state: &AppState,
) -> Result<(Option<Session>, Vec<Cookie<'static>>), WebError> {
    if let Some(access) = req.cookie(ACCESS_COOKIE) {
        if let Ok(claims) = state.keys.verify(access.value()) {
            if let Ok(role) = claims.role.parse::<Role>() {
                let session = Session {
                    user_id: UserId::from(claims.sub),
                    org_id: OrgId::from(claims.org),
                    role,
                    site_limited: claims.site_limited,
                };
                return Ok((Some(session), Vec::new()));
            }
        }
    }
    let Some(refresh_token) = req.cookie(REFRESH_COOKIE) else {
        return Ok((None, Vec::new()));
    };
    let renewed = refresh::refresh(
        &state.db,
        &state.keys,
        state.settings.refresh_token_ttl(),
        refresh_token.value(),
        chrono::Utc::now(),
    )
    .await;
    match renewed {
        Ok(pair) => {
            let claims = state
                .keys
                .verify(&pair.access_token)
                .map_err(|e| WebError::Internal(anyhow::anyhow!("fresh token invalid: {e}")))?;
            let role = claims
                .role
                .parse::<Role>()
                .map_err(|e| WebError::Internal(anyhow::anyhow!("{e}")))?;
            let session = Session {
                user_id: UserId::from(claims.sub),
                org_id: OrgId::from(claims.org),
                role,
                site_limited: claims.site_limited,
            };
            Ok((Some(session), session_cookies(state, &pair)))
        }
        Err(ApiError::Unauthorized { .. }) => Ok((None, removal_cookies())),
        Err(other) => Err(other.into()),
    }
}

fn session_cookies(state: &AppState, pair: &TokenPair) -> Vec<Cookie<'static>> {
    let secure = state.settings.public_base_url.starts_with("https://");
    let mut refresh_cookie = cookie(REFRESH_COOKIE, &pair.refresh_token, secure, true);
    let ttl = i64::try_from(state.settings.refresh_token_ttl_secs).unwrap_or(i64::MAX);
    refresh_cookie.set_max_age(time::Duration::seconds(ttl));
    vec![
        cookie(ACCESS_COOKIE, &pair.access_token, secure, true),
        refresh_cookie,
    ]
}

fn removal_cookies() -> Vec<Cookie<'static>> {
    [ACCESS_COOKIE, REFRESH_COOKIE]
        .into_iter()
        .map(|name| {
            let mut c = cookie(name, "", false, true);
            c.make_removal();
            c
        })
        .collect()
}

/// A page that needs a signed-in manager; signed out, it redirects to `/login`.
pub struct Manager {
    pub web: Web,
    pub session: Session,
}

impl FromRequest for Manager {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let web = Web::from_request(req, payload);
        let next = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        Box::pin(async move {
            let web = web.await?;
            match web.session {
                Some(session) => Ok(Manager { web, session }),
                None => Err(WebError::SignedOut { next }),
            }
        })
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    pub next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub next: String,
}

/// Only a path on this site, never `//host` or a URL.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}

#[get("/login")]
pub async fn login_page(web: Web, query: web::Query<LoginQuery>) -> Result<HttpResponse, WebError> {
    let next = local_path(query.next.as_deref());
    if web.session.is_some() {
        return Ok(web.redirect(&next));
    }
    web.render(
        "login.html",
        context! { next => next, email => "", errors => context!{} },
    )
}

#[post("/login")]
pub async fn login_submit(
    mut web: Web,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    web.check_csrf(&form.csrf)?;
    let next = local_path(Some(&form.next));
    let email = form.email.trim();
    let mut errors = std::collections::BTreeMap::new();
    if email.is_empty() {
        errors.insert("email", "err_required");
    } else if !email.contains('@') {
        errors.insert("email", "err_email");
    }
    if form.password.is_empty() {
        errors.insert("password", "err_required");
    }
    if errors.is_empty() {
        let state = web.state()?.clone();
        let result = refresh::login(
            &state.db,
            &state.keys,
            state.settings.refresh_token_ttl(),
            email,
            &form.password,
            None,
            chrono::Utc::now(),
        )
        .await;
        match result {
            Ok(pair) => {
                for c in session_cookies(&state, &pair) {
                    web.set_cookie(c);
                }
                return Ok(web.redirect(&next));
            }
            Err(ApiError::Unauthorized { .. } | ApiError::Forbidden) => {
                errors.insert("password", "err_credentials");
            }
            Err(other) => return Err(other.into()),
        }
    }
    web.render_status(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        "login.html",
        context! { next => next, email => email, errors => errors },
    )
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

#[post("/logout")]
pub async fn logout(mut web: Web, form: web::Form<CsrfForm>) -> Result<HttpResponse, WebError> {
    web.check_csrf(&form.csrf)?;
    if let Some(token) = web.req.cookie(REFRESH_COOKIE) {
        let state = web.state()?.clone();
        refresh::logout(&state.db, token.value()).await?;
    }
    for c in removal_cookies() {
        web.set_cookie(c);
    }
    Ok(web.redirect("/login"))
}
