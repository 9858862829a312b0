//! Sign-in: password hashing, access tokens, refresh tokens, tenants' one-time codes, and the
//! extractors that turn a bearer token into the caller (`OrgContext`, `TenantContext`).

pub mod context;
pub mod otp;
pub mod password;
pub mod refresh;
pub mod tenant;
pub mod token;

pub use context::OrgContext;
pub use tenant::TenantContext;
pub use token::TokenKeys;
