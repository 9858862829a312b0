//! Gateway MQTT passwords, hashed the way Mosquitto's password file stores them, so the
//! broker's file can be exported from our database: `username:$7$<iterations>$<base64 salt>$<base64 hash>`
//! with PBKDF2-HMAC-SHA512, a 12-byte salt and a 64-byte hash (mosquitto_passwd's defaults, with
//! more iterations). The password itself is shown once, at creation, and never stored.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha512;

/// Iterations of PBKDF2; mosquitto_passwd defaults to 101, brokers accept any count.
pub const ITERATIONS: u32 = 10_000;
const SALT_LEN: usize = 12;

/// A fresh random password (24 URL-safe characters, 144 bits).
pub fn generate_password() -> String {
    let mut raw = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The Mosquitto `$7$` hash of `password` with a random salt.
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; SALT_LEN];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    hash_with(password, &salt, ITERATIONS)
}

fn hash_with(password: &str, salt: &[u8], iterations: u32) -> String {
    let derived = pbkdf2_sha512(password.as_bytes(), salt, iterations);
    format!(
        "$7${iterations}${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(derived)
    )
}

/// Whether `password` matches a `$7$` hash.
pub fn verify(password: &str, stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let ["", "7", iterations, salt, expected] = parts.as_slice() else {
        return false;
    };
    let (Ok(iterations), Ok(salt)) = (iterations.parse::<u32>(), STANDARD.decode(salt)) else {
        return false;
    };
    hash_with(password, &salt, iterations).ends_with(&format!("${expected}"))
}

/// PBKDF2 (RFC 8018) with HMAC-SHA512 and one 64-byte output block.
fn pbkdf2_sha512(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 64] {
    let mac = <Hmac<Sha512> as Mac>::new_from_slice(password)
        // HMAC takes keys of any length; this cannot fail.
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    let mut u = {
        let mut m = mac.clone();
        m.update(salt);
        m.update(&1u32.to_be_bytes());
        m.finalize().into_bytes()
    };
    let mut out = [0u8; 64];
    out.copy_from_slice(&u);
    for _ in 1..iterations {
        let mut m = mac.clone();
        m.update(&u);
        u = m.finalize().into_bytes();
        for (o, b) in out.iter_mut().zip(u.iter()) {
            *o ^= b;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_test_vector_for_pbkdf2_hmac_sha512() {
        // RFC 6070-style vector for SHA-512 (password, salt, 1 iteration).
        let out = pbkdf2_sha512(b"password", b"salt", 1);
        assert_eq!(&out[..8], &[0x86, 0x7f, 0x70, 0xcf, 0x1a, 0xde, 0x02, 0xcf]);
    }

    #[test]
    fn hashes_in_mosquittos_format_and_verifies() {
        let h = hash("s3cret");
        let parts: Vec<&str> = h.split('$').collect();
        assert_eq!(parts[1], "7");
        assert_eq!(parts[2], ITERATIONS.to_string());
        assert_eq!(STANDARD.decode(parts[3]).unwrap().len(), 12);
        assert_eq!(STANDARD.decode(parts[4]).unwrap().len(), 64);
        assert!(verify("s3cret", &h));
        assert!(!verify("s3cre7", &h));
        assert!(!verify("s3cret", "garbage"));
    }
}
