//! Tenant sign-in: `POST /api/v1/tenant/auth/otp` sends a one-time code to a phone,
//! `POST /api/v1/tenant/auth/verify` exchanges it for a tenant token. Both are rate limited per
//! client address, and sending per phone.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::otp::{self, TenantToken};
use crate::error::{ApiError, Problem};
use crate::rate_limit::{client_address, hit};
use crate::startup::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpRequest {
    /// The phone the property manager registered for the tenant.
    pub phone: String,
}

/// The same answer whether or not the phone holds accounts.
#[derive(Serialize, ToSchema)]
pub struct OtpSent {
    /// Always true: a code was sent if the phone holds accounts.
    pub accepted: bool,
    /// Seconds a code stays valid.
    pub expires_in: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub phone: String,
    /// The 6-digit code from the SMS.
    pub code: String,
    /// Acceptance of the privacy notice; required at a phone's first sign-in.
    #[serde(default)]
    pub consent: bool,
}

/// Send a one-time sign-in code to a tenant's phone.
#[utoipa::path(post, path = "/api/v1/tenant/auth/otp", tag = "tenant", request_body = OtpRequest,
    responses((status = 202, body = OtpSent),
        (status = 400, description = "`invalid_phone`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = Problem, content_type = "application/problem+json")))]
#[post("/tenant/auth/otp")]
pub async fn request_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<OtpRequest>,
) -> Result<HttpResponse, ApiError> {
    let address = client_address(&req, state.settings.trust_forwarded_for);
    hit(&state.limits.otp_address, &address)?;
    let phone = otp::normalize_phone(&body.phone)?;
    hit(&state.limits.otp_phone, &phone)?;
    otp::send_code(&state, &phone, chrono::Utc::now()).await?;
    Ok(HttpResponse::Accepted().json(OtpSent {
        accepted: true,
        expires_in: state.settings.otp_ttl_secs,
    }))
}

/// Exchange a one-time code for a tenant token (records privacy consent at the first sign-in).
#[utoipa::path(post, path = "/api/v1/tenant/auth/verify", tag = "tenant", request_body = VerifyRequest,
    responses((status = 200, body = TenantToken),
        (status = 401, description = "`invalid_code`: wrong, expired, used or exhausted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`consent_required`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = Problem, content_type = "application/problem+json")))]
#[post("/tenant/auth/verify")]
pub async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<VerifyRequest>,
) -> Result<HttpResponse, ApiError> {
    let address = client_address(&req, state.settings.trust_forwarded_for);
    hit(&state.limits.otp_address, &address)?;
    let phone = otp::normalize_phone(&body.phone)?;
    let token = otp::verify(&state, &phone, &body.code, body.consent, chrono::Utc::now()).await?;
    Ok(HttpResponse::Ok().json(token))
}
