//! Tenant sign-in by phone and one-time code.
//!
//! Rules kept here:
//! - asking for a code answers the same whether or not the phone holds accounts (no
//!   enumeration); a code is generated and sent only when it does;
//! - a code is 6 random digits, valid for `otp_ttl_secs`, used once, and dies after
//!   `otp_max_attempts` wrong guesses; only its HMAC (keyed by a server secret, bound to the
//!   phone) is stored, so a database reader cannot try the million codes offline;
//! - consent to the privacy notice is recorded at the first sign-in and required for it (PIPL);
//! - the token names the tenant records carrying the phone, and the `TenantContext` re-checks
//!   the phone on every request.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng as _;
use serde::Serialize;
use sha2::Sha256;
use utoipa::ToSchema;

use super::token::TenantGrant;
use crate::error::ApiError;
use crate::startup::AppState;

/// The version of the privacy notice a tenant consents to.
pub const NOTICE_VERSION: &str = "2026-11";
/// Codes sent to one phone per hour over all api processes (the database counts them).
const SENDS_PER_HOUR: u64 = 10;

/// What a successful verification answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantToken {
    /// JWT for `Authorization: Bearer` on `/api/v1/me/...`.
    pub access_token: String,
    /// Seconds until it expires; then sign in again with a new code.
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: &'static str,
}

/// A phone as typed (spaces and dashes allowed), or `400 invalid_phone`.
pub fn normalize_phone(input: &str) -> Result<String, ApiError> {
    let phone: String = input
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    let digits = phone.strip_prefix('+').unwrap_or(&phone);
    if (5..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(phone)
    } else {
        Err(ApiError::bad_request(
            "invalid_phone",
            "phone must be 5 to 20 digits",
        ))
    }
}

fn code_hash(key: &[u8], phone: &str, code: &str) -> Result<String, ApiError> {
    use base64::Engine as _;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("otp key: {e}")))?;
    mac.update(phone.as_bytes());
    mac.update(b":");
    mac.update(code.as_bytes());
    Ok(base64::engine::general_purpose::STANDARD_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// Compares in time independent of where the inputs differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Sends a code to `phone` when it holds accounts; answers the same either way.
pub async fn send_code(state: &AppState, phone: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let db = &state.db;
    if store::unscoped::accounts_of_phone(db, phone)
        .await?
        .is_empty()
    {
        tracing::info!("one-time code asked for a phone without accounts");
        return Ok(());
    }
    if store::tenant_login::sent_since(db, phone, now - chrono::Duration::hours(1)).await?
        >= SENDS_PER_HOUR
    {
        return Err(crate::rate_limit::limited(std::time::Duration::from_secs(
            3600,
        )));
    }
    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
    let ttl = i64::try_from(state.settings.otp_ttl_secs).map_err(anyhow::Error::from)?;
    store::tenant_login::create_otp(
        db,
        phone,
        &code_hash(&state.otp_key, phone, &code)?,
        now,
        now + chrono::Duration::seconds(ttl),
    )
    .await?;
    let text = format!(
        "【Wattpay】您的验证码是 {code}，{} 分钟内有效。Your Wattpay code is {code}.",
        ttl / 60
    );
    if let Err(e) = state.notifier.send_sms(phone, &text).await {
        // Same answer as a phone without accounts: the caller learns nothing either way.
        tracing::error!(error = %e, "could not send a one-time code");
    }
    Ok(())
}

/// Checks a code and signs the tenant in. `consent` must be true at a phone's first sign-in.
pub async fn verify(
    state: &AppState,
    phone: &str,
    code: &str,
    consent: bool,
    now: DateTime<Utc>,
) -> Result<TenantToken, ApiError> {
    let invalid = || ApiError::unauthorized("invalid_code", "wrong or expired code");
    let db = &state.db;
    let Some(otp) = store::tenant_login::latest_active(db, phone, now).await? else {
        return Err(invalid());
    };
    if u32::try_from(otp.attempts).unwrap_or(u32::MAX) >= state.settings.otp_max_attempts {
        return Err(invalid());
    }
    let code = code.trim();
    if !same(&code_hash(&state.otp_key, phone, code)?, &otp.code_hash) {
        store::tenant_login::record_failed_attempt(db, otp.id).await?;
        return Err(invalid());
    }
    let consented = store::tenant_login::consent_of(db, phone).await?.is_some();
    if !consented && !consent {
        // The code stays valid: the tenant accepts the notice and sends it again.
        return Err(ApiError::unprocessable(
            "consent_required",
            format!("accept the privacy notice (version {NOTICE_VERSION}) with \"consent\": true"),
        ));
    }
    if !store::tenant_login::consume(db, otp.id, now).await? {
        return Err(invalid());
    }
    if !consented {
        store::tenant_login::record_consent(db, phone, NOTICE_VERSION, now).await?;
    }
    let grants = store::unscoped::tenants_of_phone(db, phone)
        .await?
        .into_iter()
        .map(|(tenant, org)| TenantGrant {
            tenant: tenant.into(),
            org: org.into(),
        })
        .collect();
    let access_token = state.keys.issue_tenant(phone, grants, now)?;
    Ok(TenantToken {
        access_token,
        expires_in: state.keys.tenant_ttl().as_secs(),
        token_type: "Bearer",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalized_or_refused() {
        assert_eq!(normalize_phone(" 138-0000 0000 ").unwrap(), "13800000000");
        assert_eq!(normalize_phone("+8613800000000").unwrap(), "+8613800000000");
        assert!(normalize_phone("1380000000a").is_err());
        assert!(normalize_phone("123").is_err());
    }

    #[test]
    fn hashes_bind_the_phone() {
        let a = code_hash(b"k", "13800000000", "123456").unwrap();
        assert_eq!(a, code_hash(b"k", "13800000000", "123456").unwrap());
        assert_ne!(a, code_hash(b"k", "13900000000", "123456").unwrap());
        assert_ne!(a, code_hash(b"other", "13800000000", "123456").unwrap());
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, "x"));
    }
}
