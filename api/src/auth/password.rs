//! Argon2id password hashes in the PHC string format (`$argon2id$v=19$...`), with the crate's
//! recommended parameters. Verification of an unknown account still spends the same work on a
//! fixed dummy hash, so response time does not reveal whether an email is registered.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Hashes a password for storage.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// Checks a password against a stored hash. A malformed stored hash never verifies.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Spends the same work as a real verification, for unknown accounts.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // The hash of a random password nobody knows; only the work it costs matters.
    let dummy =
        DUMMY.get_or_init(|| hash_password(&uuid::Uuid::new_v4().to_string()).unwrap_or_default());
    let _ = verify_password(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash_password("wattpay-demo").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("wattpay-demo", &h));
        assert!(!verify_password("wattpay-dem0", &h));
        assert!(!verify_password("wattpay-demo", "not a hash"));
    }
}
