//! Access tokens: HS256 JWTs whose issuer, audience and expiry are always checked.
//!
//! Managers' tokens carry the organization and role they act in; the organization of every
//! request comes from here, never from a request body.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::Role;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Issuer of every token this deployment signs.
pub const ISSUER: &str = "wattpay";
/// Audience of manager (dashboard) tokens.
pub const AUDIENCE_MANAGER: &str = "wattpay-manager";
/// Audience of tenant (phone sign-in) tokens; never accepted where a manager token is expected.
pub const AUDIENCE_TENANT: &str = "wattpay-tenant";
/// Default lifetime of a tenant token.
const TENANT_TTL: Duration = Duration::from_secs(24 * 3600);

/// One tenant record a tenant token may read the accounts of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantGrant {
    /// The tenant row.
    pub tenant: Uuid,
    /// Its organization.
    pub org: Uuid,
}

/// The claims of a tenant access token: the phone the one-time code proved and the tenant
/// records (in any organization) carrying that phone at sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantClaims {
    /// The phone number.
    pub sub: String,
    pub tenants: Vec<TenantGrant>,
    /// Always `tenant`.
    pub role: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: Uuid,
    /// The organization the token acts in.
    pub org: Uuid,
    /// The caller's role in that organization (`org_admin`, `operator`, ...).
    pub role: String,
    /// The caller sees only the sites their membership lists (read from the database per
    /// query, so a change of the list applies at once; the flag itself at the next refresh).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub site_limited: bool,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// Signing and verification keys, built once at startup.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    access_ttl: Duration,
    tenant_ttl: Duration,
}

impl TokenKeys {
    pub fn new(secret: &[u8], access_ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            access_ttl,
            tenant_ttl: TENANT_TTL,
        }
    }

    /// The same keys with another tenant-token lifetime.
    #[must_use]
    pub fn with_tenant_ttl(mut self, ttl: Duration) -> Self {
        self.tenant_ttl = ttl;
        self
    }

    /// Lifetime of the tenant tokens this signs.
    pub fn tenant_ttl(&self) -> Duration {
        self.tenant_ttl
    }

    /// Signs a tenant access token for `phone` and the tenant records it may read.
    pub fn issue_tenant(
        &self,
        phone: &str,
        tenants: Vec<TenantGrant>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let ttl = i64::try_from(self.tenant_ttl.as_secs())?;
        let claims = TenantClaims {
            sub: phone.to_owned(),
            tenants,
            role: Role::Tenant.as_str().to_owned(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE_TENANT.to_owned(),
            iat: now.timestamp(),
            exp: now.timestamp() + ttl,
        };
        Ok(encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Verifies a tenant token as [`Self::verify`] does a manager's, with the tenant audience.
    pub fn verify_tenant(&self, token: &str) -> Result<TenantClaims, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE_TENANT]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        decode::<TenantClaims>(token, &self.decoding, &validation).map(|d| d.claims)
    }

    /// Lifetime of the access tokens this signs.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// Signs a manager access token valid from `now` for the configured lifetime.
    pub fn issue(
        &self,
        user: Uuid,
        org: Uuid,
        role: Role,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        self.issue_limited(user, org, role, false, now)
    }

    /// [`Self::issue`] for a member who may be limited to some sites.
    pub fn issue_limited(
        &self,
        user: Uuid,
        org: Uuid,
        role: Role,
        site_limited: bool,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let ttl = i64::try_from(self.access_ttl.as_secs())?;
        let claims = Claims {
            sub: user,
            org,
            role: role.as_str().to_owned(),
            site_limited,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE_MANAGER.to_owned(),
            iat: now.timestamp(),
            exp: now.timestamp() + ttl,
        };
        Ok(encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Verifies signature, algorithm, issuer, audience and expiry (no leeway: a token is short
    /// lived and refresh is cheap).
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE_MANAGER]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        decode::<Claims>(token, &self.decoding, &validation).map(|d| d.claims)
    }
}
