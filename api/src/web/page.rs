//! What every page request carries and how every page answers: the language, the CSRF token,
//! the signed-in manager (if any), cookies to set, and rendering through the compiled-in
//! templates.
//!
//! Rules it keeps: templates are compiled into the binary (`include_str!`), so the pages work
//! from any working directory; auto-escaping is on for every `.html` template and undefined
//! values are errors, so a typo fails a test instead of rendering blank; error pages are
//! bilingual and never show internals.

use std::fmt::Write as _;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{dev::Payload, web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use base64::Engine as _;
use futures_util::future::LocalBoxFuture;
use minijinja::{context, Environment, UndefinedBehavior, Value};
use rand::RngCore as _;

use super::i18n::{self, Lang};
use super::session::{self, Session};
use crate::startup::AppState;

/// The cookie holding the double-submit CSRF token.
pub const CSRF_COOKIE: &str = "wp_csrf";

/// The compiled-in templates.
pub struct Templates {
    env: Environment<'static>,
}

macro_rules! templates {
    ($env:ident, $($name:literal),* $(,)?) => {
        $( $env.add_template($name, include_str!(concat!("../../templates/", $name)))?; )*
    };
}

impl Templates {
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        templates!(
            env,
            "base.html",
            "login.html",
            "overview.html",
            "accounts.html",
            "account.html",
            "confirm.html",
            "sites.html",
            "building.html",
            "qr_sheet.html",
            "gateways.html",
            "door.html",
            "macros.html",
            "desk.html",
            "day_end.html",
            "receipt.html",
            "receipt_rows.html",
            "tariffs.html",
            "tariff.html",
            "audit.html",
            "tenant_login.html",
            "tenant_me.html",
            "tenant_account.html",
            "tenant_receipt.html",
            "tenant_jsapi.html",
            "tenant_signout.html",
            "gateway_new.html",
            "gateway_created.html",
            "meter_new.html",
            "closing.html",
        );
        env.add_filter("fill", fill);
        Ok(Self { env })
    }
}

/// `{{ t.days_left | fill(n=3) }}`: replaces `{n}` placeholders of a catalogue string.
// minijinja hands keyword arguments to filters by value.
#[allow(clippy::needless_pass_by_value)]
fn fill(text: &str, kwargs: minijinja::value::Kwargs) -> Result<String, minijinja::Error> {
    let mut out = text.to_owned();
    for key in kwargs.args() {
        let value: Value = kwargs.get(key)?;
        out = out.replace(&format!("{{{key}}}"), &value.to_string());
    }
    Ok(out)
}

/// The request as the pages see it.
pub struct Web {
    pub req: HttpRequest,
    pub lang: Lang,
    pub csrf: String,
    pub session: Option<Session>,
    set_cookies: Vec<Cookie<'static>>,
}

impl FromRequest for Web {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Web::build(req).await })
    }
}

impl Web {
    async fn build(req: HttpRequest) -> Result<Self, WebError> {
        let state = state(&req)?;
        let (lang, chosen) = Lang::of_request(&req);
        let mut set_cookies = Vec::new();
        let secure = state.settings.public_base_url.starts_with("https://");
        if chosen {
            set_cookies.push(cookie(i18n::COOKIE, lang.code(), secure, false));
        }
        let csrf = if let Some(c) = req.cookie(CSRF_COOKIE).filter(|c| c.value().len() >= 32) {
            c.value().to_owned()
        } else {
            let token = random_token();
            set_cookies.push(cookie(CSRF_COOKIE, &token, secure, true));
            token
        };
        let (session, refreshed) = session::from_cookies(&req, state).await?;
        set_cookies.extend(refreshed);
        Ok(Web {
            req,
            lang,
            csrf,
            session,
            set_cookies,
        })
    }

    pub fn state(&self) -> Result<&web::Data<AppState>, WebError> {
        state(&self.req)
    }

    /// Fails unless the form's token equals the cookie's (double submit).
    pub fn check_csrf(&self, submitted: &str) -> Result<(), WebError> {
        let cookie = self.req.cookie(CSRF_COOKIE);
        match cookie {
            Some(c) if !submitted.is_empty() && constant_eq(c.value(), submitted) => Ok(()),
            _ => Err(WebError::Csrf),
        }
    }

    /// Adds a cookie to whatever this request answers.
    pub fn set_cookie(&mut self, cookie: Cookie<'static>) {
        self.set_cookies.push(cookie);
    }

    /// Whether cookies should be `Secure` (the deployment is served over HTTPS).
    pub fn secure(&self) -> bool {
        self.state()
            .is_ok_and(|s| s.settings.public_base_url.starts_with("https://"))
    }

    /// Renders a template with the common context (words, language, CSRF token, user).
    pub fn render(&self, name: &str, extra: Value) -> Result<HttpResponse, WebError> {
        self.render_status(StatusCode::OK, name, extra)
    }

    pub fn render_status(
        &self,
        status: StatusCode,
        name: &str,
        extra: Value,
    ) -> Result<HttpResponse, WebError> {
        let templates = self
            .req
            .app_data::<web::Data<Templates>>()
            .ok_or_else(|| WebError::Internal(anyhow::anyhow!("templates missing")))?;
        let other = match self.lang {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        };
        let ctx = context! {
            t => i18n::words(self.lang),
            lang => self.lang.tag(),
            other_lang => other.code(),
            path => self.req.path(),
            csrf => &self.csrf,
            signed_in => self.session.is_some(),
            is_admin => self.session.is_some_and(|s| s.is_admin()),
            ..extra
        };
        let html = templates
            .env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| WebError::Internal(anyhow::anyhow!("rendering {name}: {e:#}")))?;
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        res.content_type("text/html; charset=utf-8");
        for c in &self.set_cookies {
            res.cookie(c.clone());
        }
        Ok(res.body(html))
    }

    /// A 303 redirect (after a form post), carrying the cookies to set.
    pub fn redirect(&self, location: &str) -> HttpResponse {
        let mut res = HttpResponse::SeeOther();
        res.insert_header((header::LOCATION, location.to_owned()));
        for c in &self.set_cookies {
            res.cookie(c.clone());
        }
        res.finish()
    }
}

fn state(req: &HttpRequest) -> Result<&web::Data<AppState>, WebError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| WebError::Internal(anyhow::anyhow!("AppState missing")))
}

/// A cookie for the whole site, `SameSite=Lax`.
pub fn cookie(name: &'static str, value: &str, secure: bool, http_only: bool) -> Cookie<'static> {
    Cookie::build(name, value.to_owned())
        .path("/")
        .same_site(SameSite::Lax)
        .secure(secure)
        .http_only(http_only)
        .finish()
}

/// 256 random bits, URL-safe.
pub fn random_token() -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// How a page fails. Error pages are bilingual: they are drawn without the request's language.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("sign in first")]
    SignedOut { next: String },
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("CSRF token mismatch")]
    Csrf,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<store::StoreError> for WebError {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::NotFound => WebError::NotFound,
            other => WebError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<sea_orm::DbErr> for WebError {
    fn from(e: sea_orm::DbErr) -> Self {
        WebError::Internal(anyhow::Error::new(e))
    }
}

impl From<crate::error::ApiError> for WebError {
    fn from(e: crate::error::ApiError) -> Self {
        use crate::error::ApiError;
        match e {
            ApiError::NotFound { .. } => WebError::NotFound,
            ApiError::Forbidden => WebError::Forbidden,
            other => WebError::Internal(anyhow::anyhow!("{other}")),
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::SignedOut { .. } => StatusCode::SEE_OTHER,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Forbidden | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let key = match self {
            WebError::SignedOut { next } => {
                let location = format!("/login?next={}", encode_component(next));
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .finish();
            }
            WebError::NotFound => "err_not_found",
            WebError::Forbidden => "err_forbidden",
            WebError::Csrf => "err_csrf",
            WebError::Internal(e) => {
                tracing::error!(error = ?e, "page failed");
                "err_internal"
            }
        };
        let zh = i18n::text(Lang::Zh, key);
        let en = i18n::text(Lang::En, key);
        let home_zh = i18n::text(Lang::Zh, "back_home");
        let home_en = i18n::text(Lang::En, "back_home");
        let body = format!(
            "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{zh}</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
             <body><main class=\"error-page\"><h1>{zh}</h1><p lang=\"en\">{en}</p>\
             <p><a href=\"/\">{home_zh} / {home_en}</a></p></main></body></html>"
        );
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}

/// Percent-encodes a query component (the `next` path after sign-in).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
