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

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: Uuid,
    /// The organization the token acts in.
    pub org: Uuid,
    /// The caller's role in that organization (`org_admin`, `operator`, ...).
    pub role: String,
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
}

impl TokenKeys {
    pub fn new(secret: &[u8], access_ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            access_ttl,
        }
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
        let ttl = i64::try_from(self.access_ttl.as_secs())?;
        let claims = Claims {
            sub: user,
            org,
            role: role.as_str().to_owned(),
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
