//! The tenant's phone sign-in: `/t/login` (phone → one-time code by SMS → code entry, with the
//! privacy notice at a phone's first sign-in) and `/t/logout`.
//!
//! Rules it keeps: the pages go through `auth::otp` exactly as `POST /api/v1/tenant/auth/otp`
//! and `/verify` do (same rate limits, same answer whether or not the phone holds accounts,
//! same consent rule); the session is the REST API's tenant token in an HttpOnly,
//! `SameSite=Lax` cookie, re-checked on every request by `TenantContext`; after sign-in only a
//! local path is followed (no open redirect); errors are shown next to the field they concern.

use std::collections::BTreeMap;

use actix_web::cookie::{time, Cookie};
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use minijinja::context;
use serde::Deserialize;
use store::{OrgId, TenantId};

use super::page::{cookie, encode_component, Web, WebError};
use crate::auth::{otp, TenantContext};
use crate::error::ApiError;
use crate::rate_limit::{client_address, hit};

/// The cookie holding the tenant's access token.
pub const TENANT_COOKIE: &str = "wp_tenant";

/// Where a signed-in tenant lands by default.
const HOME: &str = "/t/me";

/// The signed-in tenant of a request, if the cookie holds a valid tenant token.
pub fn current(web: &Web) -> Option<TenantContext> {
    let state = web.state().ok()?;
    let token = web.req.cookie(TENANT_COOKIE)?;
    let claims = state.keys.verify_tenant(token.value()).ok()?;
    (claims.role == domain::Role::Tenant.as_str()).then(|| TenantContext {
        phone: claims.sub,
        grants: claims
            .tenants
            .iter()
            .map(|g| (TenantId::from(g.tenant), OrgId::from(g.org)))
            .collect(),
    })
}

/// The sign-in page, coming back to `next` afterwards.
pub fn sign_in_first(web: &Web) -> HttpResponse {
    let next = web.req.uri().path_and_query().map_or(HOME, |p| p.as_str());
    web.redirect(&format!("/t/login?next={}", encode_component(next)))
}

/// Only a tenant page of this site, never `//host`, a URL or a manager page.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with("/t/") && !p.contains("//") && !p.contains('\\') => p.to_owned(),
        _ => HOME.to_owned(),
    }
}

/// `138****0000`: enough for the tenant to recognise their phone on a shared screen.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return phone.to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct PhoneForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    consent: String,
    /// `1` once the privacy notice has been shown on this form.
    #[serde(default)]
    asked: String,
    #[serde(default)]
    next: String,
}

/// What the sign-in template shows: the step (`phone`, `code`), the values and the errors.
struct LoginStep<'a> {
    step: &'static str,
    phone: &'a str,
    code: &'a str,
    next: &'a str,
    /// Whether the privacy notice and its checkbox are shown (first sign-in of the phone).
    consent: bool,
    message: Option<String>,
    errors: BTreeMap<&'static str, &'static str>,
}

impl LoginStep<'_> {
    fn render(&self, web: &Web, status: StatusCode) -> Result<HttpResponse, WebError> {
        web.render_status(
            status,
            "tenant_login.html",
            context! {
                step => self.step,
                phone => self.phone,
                masked => mask_phone(self.phone),
                code => self.code,
                next => self.next,
                next_q => encode_component(self.next),
                ask_consent => self.consent,
                message => &self.message,
                errors => &self.errors,
                body_class => "door",
            },
        )
    }
}

/// "Try again in N minutes" for a rate-limit refusal.
fn wait_message(web: &Web, retry_after_secs: u64) -> String {
    let minutes = retry_after_secs.div_ceil(60).max(1);
    super::i18n::text(web.lang, "tenant_err_rate_limited").replace("{n}", &minutes.to_string())
}

#[get("/t/login")]
pub async fn login_page(web: Web, q: web::Query<LoginQuery>) -> Result<HttpResponse, WebError> {
    let next = local_path(q.next.as_deref());
    if current(&web).is_some() {
        return Ok(web.redirect(&next));
    }
    LoginStep {
        step: "phone",
        phone: "",
        code: "",
        next: &next,
        consent: false,
        message: None,
        errors: BTreeMap::new(),
    }
    .render(&web, StatusCode::OK)
}

/// Step one: send a code to the phone.
#[post("/t/login")]
pub async fn send_code(web: Web, form: web::Form<PhoneForm>) -> Result<HttpResponse, WebError> {
    web.check_csrf(&form.csrf)?;
    let state = web.state()?.clone();
    let next = local_path(Some(&form.next));
    let typed = form.phone.trim();
    let mut step = LoginStep {
        step: "phone",
        phone: typed,
        code: "",
        next: &next,
        consent: false,
        message: None,
        errors: BTreeMap::new(),
    };
    if typed.is_empty() {
        step.errors.insert("phone", "err_required");
        return step.render(&web, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let address = client_address(&web.req, state.settings.trust_forwarded_for);
    let sent = async {
        hit(&state.limits.otp_address, &address)?;
        let phone = otp::normalize_phone(typed)?;
        hit(&state.limits.otp_phone, &phone)?;
        otp::send_code(&state, &phone, chrono::Utc::now()).await?;
        Ok::<_, ApiError>(phone)
    }
    .await;
    match sent {
        Ok(phone) => {
            let minutes = (state.settings.otp_ttl_secs / 60).max(1);
            let message = super::i18n::text(web.lang, "tenant_code_sent")
                .replace("{phone}", &mask_phone(&phone))
                .replace("{n}", &minutes.to_string());
            LoginStep {
                step: "code",
                phone: &phone,
                message: Some(message),
                ..step
            }
            .render(&web, StatusCode::OK)
        }
        Err(ApiError::BadRequest { .. }) => {
            step.errors.insert("phone", "tenant_err_phone");
            step.render(&web, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(ApiError::TooManyRequests {
            retry_after_secs, ..
        }) => {
            step.message = Some(wait_message(&web, retry_after_secs));
            step.render(&web, StatusCode::TOO_MANY_REQUESTS)
        }
        Err(other) => Err(other.into()),
    }
}

/// Step two: check the code (and the privacy consent at the first sign-in), then sign in.
#[post("/t/login/verify")]
pub async fn verify_code(
    mut web: Web,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, WebError> {
    web.check_csrf(&form.csrf)?;
    let state = web.state()?.clone();
    let next = local_path(Some(&form.next));
    let Ok(phone) = otp::normalize_phone(&form.phone) else {
        // Only a tampered form gets here: start again.
        return Ok(web.redirect(&format!("/t/login?next={}", encode_component(&next))));
    };
    let code = form.code.trim();
    let consent = matches!(form.consent.as_str(), "1" | "on" | "true");
    let mut step = LoginStep {
        step: "code",
        phone: &phone,
        code,
        next: &next,
        // Once asked, keep asking until the tenant accepts.
        consent: form.asked == "1",
        message: None,
        errors: BTreeMap::new(),
    };
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        step.errors.insert("code", "tenant_err_code_format");
        return step.render(&web, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let address = client_address(&web.req, state.settings.trust_forwarded_for);
    let verified = async {
        hit(&state.limits.otp_address, &address)?;
        otp::verify(&state, &phone, code, consent, chrono::Utc::now()).await
    }
    .await;
    match verified {
        Ok(token) => {
            let mut c = session_cookie(&web, &token.access_token);
            let ttl = i64::try_from(token.expires_in).unwrap_or(i64::MAX);
            c.set_max_age(time::Duration::seconds(ttl));
            web.set_cookie(c);
            Ok(web.redirect(&next))
        }
        Err(ApiError::Unauthorized { .. }) => {
            step.code = "";
            step.errors.insert("code", "tenant_err_code");
            step.render(&web, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(ApiError::Unprocessable { .. }) => {
            // consent_required: the code is right and stays valid; the notice must be accepted.
            step.consent = true;
            step.errors.insert("consent", "tenant_err_consent");
            step.render(&web, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(ApiError::TooManyRequests {
            retry_after_secs, ..
        }) => {
            step.message = Some(wait_message(&web, retry_after_secs));
            step.render(&web, StatusCode::TOO_MANY_REQUESTS)
        }
        Err(other) => Err(other.into()),
    }
}

fn session_cookie(web: &Web, token: &str) -> Cookie<'static> {
    cookie(TENANT_COOKIE, token, web.secure(), true)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[post("/t/logout")]
pub async fn logout(mut web: Web, form: web::Form<CsrfForm>) -> Result<HttpResponse, WebError> {
    web.check_csrf(&form.csrf)?;
    let mut c = session_cookie(&web, "");
    c.make_removal();
    web.set_cookie(c);
    Ok(web.redirect("/t/login"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tenant_pages_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/t/me/abc")), "/t/me/abc");
        assert_eq!(local_path(Some("//evil.example/t/")), "/t/me");
        assert_eq!(local_path(Some("/t//evil.example")), "/t/me");
        assert_eq!(local_path(Some("/accounts")), "/t/me");
        assert_eq!(local_path(Some("https://evil.example")), "/t/me");
        assert_eq!(local_path(None), "/t/me");
    }

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("13800000000"), "138****0000");
        assert_eq!(mask_phone("12345"), "12345");
    }
}
