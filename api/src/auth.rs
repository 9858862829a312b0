//! Sign-in: password hashing, access tokens, refresh tokens, and the extractor that turns a
//! bearer token into the caller's organization and role.

pub mod context;
pub mod password;
pub mod refresh;
pub mod token;

pub use context::OrgContext;
pub use token::TokenKeys;
