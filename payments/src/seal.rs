//! Sealing merchant secrets at rest: AES-256-GCM under a key derived from
//! `WATTPAY_SECRET_KEY` (SHA-256 of the configured text, so any long random string works).
//! The sealed form is base64 of `nonce (12 bytes) || ciphertext+tag`; a fresh random nonce per
//! seal. A database dump alone never reveals a merchant key.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest, Sha256};

use crate::error::PaymentError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Seals and unseals merchant secrets.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn new(secret_key: &SecretString) -> Result<Self, PaymentError> {
        let secret = secret_key.expose_secret();
        if secret.len() < 32 {
            return Err(PaymentError::Seal(
                "WATTPAY_SECRET_KEY must be at least 32 characters".into(),
            ));
        }
        let key = Sha256::digest(secret.as_bytes());
        let cipher =
            Aes256Gcm::new_from_slice(&key).map_err(|e| PaymentError::Seal(e.to_string()))?;
        Ok(Self { cipher })
    }

    pub fn seal(&self, plaintext: &[u8]) -> Result<String, PaymentError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .map_err(|e| PaymentError::Seal(e.to_string()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(B64.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, PaymentError> {
        let raw = B64
            .decode(sealed.trim())
            .map_err(|e| PaymentError::Seal(e.to_string()))?;
        if raw.len() < 12 + 16 {
            return Err(PaymentError::Seal("sealed value is too short".into()));
        }
        let (nonce, ciphertext) = raw.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| PaymentError::Seal("cannot open: wrong WATTPAY_SECRET_KEY?".into()))
    }
}

/// The merchant-secret key for processes that are not the api (the worker's polling job):
/// `WATTPAY_SECRET_KEY` when configured, else `data_dir/secrets/secret_key`, the file
/// `api::startup::load_or_create_secret` manages (created the same way when missing, so the
/// api and the worker of one install always agree).
pub fn secret_key(
    configured: Option<&SecretString>,
    data_dir: &std::path::Path,
) -> Result<SecretString, PaymentError> {
    if let Some(secret) = configured {
        return Ok(secret.clone());
    }
    let dir = data_dir.join("secrets");
    let path = dir.join("secret_key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if !existing.is_empty() {
            return Ok(SecretString::from(existing.to_owned()));
        }
    }
    let io = |e: std::io::Error| PaymentError::Seal(format!("{}: {e}", path.display()));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    std::fs::write(&path, &secret).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(SecretString::from(secret))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_and_refuses_another_key() {
        let a = SecretBox::new(&SecretString::from("a".repeat(40))).unwrap();
        let b = SecretBox::new(&SecretString::from("b".repeat(40))).unwrap();
        let sealed = a.seal(b"merchant key").unwrap();
        assert_ne!(
            sealed,
            a.seal(b"merchant key").unwrap(),
            "fresh nonce per seal"
        );
        assert_eq!(a.open(&sealed).unwrap(), b"merchant key");
        assert!(b.open(&sealed).is_err());
        assert!(SecretBox::new(&SecretString::from("short")).is_err());
    }

    #[test]
    fn the_data_dir_key_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = secret_key(None, dir.path()).unwrap();
        let again = secret_key(None, dir.path()).unwrap();
        assert_eq!(first.expose_secret(), again.expose_secret());
        assert!(SecretBox::new(&first).is_ok());
        let configured = SecretString::from("c".repeat(40));
        assert_eq!(
            secret_key(Some(&configured), dir.path())
                .unwrap()
                .expose_secret(),
            configured.expose_secret()
        );
    }
}
