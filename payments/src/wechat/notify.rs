//! Verifying and decrypting a WeChat Pay v3 notification (PAYMENTS.md):
//! - the signed message is `"{timestamp}\n{nonce}\n{raw body}\n"` over the **raw bytes**;
//! - the key is the one named by `Wechatpay-Serial` (certificate serial or `PUB_KEY_ID_...`);
//! - timestamps more than 300 s from now are replays; `WECHATPAY/SIGNTEST/` signatures are
//!   probes; both are refused without touching anything;
//! - the resource is AES-256-GCM with the APIv3 key; lengths are checked before the cipher
//!   sees them (the crate panics on wrong lengths).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::WechatKeys;
use crate::key::verify_sha256;

/// How far a notification's timestamp may be from now.
pub const MAX_SKEW_SECS: i64 = 300;
const SIGNATURE_TYPE: &str = "WECHATPAY2-SHA256-RSA2048";

/// The `Wechatpay-*` headers of a notification or response.
#[derive(Clone, Debug, Default)]
pub struct SignedHeaders {
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    pub signature: Option<String>,
    pub serial: Option<String>,
    pub signature_type: Option<String>,
}

impl SignedHeaders {
    /// Reads the headers through a lookup function (any HTTP library's header map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            timestamp: get("Wechatpay-Timestamp"),
            nonce: get("Wechatpay-Nonce"),
            signature: get("Wechatpay-Signature"),
            serial: get("Wechatpay-Serial"),
            signature_type: get("Wechatpay-Signature-Type"),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "Wechatpay-Timestamp": self.timestamp,
            "Wechatpay-Nonce": self.nonce,
            "Wechatpay-Serial": self.serial,
            "Wechatpay-Signature-Type": self.signature_type,
        })
    }
}

/// Why a notification was refused. None of these records anything as a payment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("signature test probe")]
    SignTest,
    #[error("unsupported signature type {0}")]
    SignatureType(String),
    #[error("timestamp is malformed or more than 300 s from now")]
    Stale,
    #[error("no platform key with serial {0}")]
    UnknownSerial(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("body is not a v3 notification: {0}")]
    Malformed(String),
    #[error("resource cannot be decrypted: {0}")]
    Decrypt(&'static str),
}

/// The envelope of a notification.
#[derive(Clone, Debug, Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(default)]
    pub create_time: Option<String>,
    pub event_type: String,
    #[serde(default)]
    pub resource_type: Option<String>,
    pub resource: Resource,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Resource {
    pub algorithm: String,
    pub ciphertext: String,
    #[serde(default)]
    pub associated_data: Option<String>,
    pub nonce: String,
    #[serde(default)]
    pub original_type: Option<String>,
}

/// A verified, decrypted notification.
#[derive(Clone, Debug)]
pub struct Verified {
    pub envelope: Envelope,
    /// The decrypted resource JSON.
    pub resource: serde_json::Value,
}

/// Checks the signature of `body` against the headers (notifications and API responses).
pub fn verify_signature(
    keys: &WechatKeys,
    headers: &SignedHeaders,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let signature = headers
        .signature
        .as_deref()
        .ok_or(VerifyError::MissingHeader("Wechatpay-Signature"))?;
    if signature.starts_with("WECHATPAY/SIGNTEST/") {
        return Err(VerifyError::SignTest);
    }
    if let Some(kind) = headers.signature_type.as_deref() {
        if kind != SIGNATURE_TYPE {
            return Err(VerifyError::SignatureType(kind.to_owned()));
        }
    }
    let timestamp = headers
        .timestamp
        .as_deref()
        .ok_or(VerifyError::MissingHeader("Wechatpay-Timestamp"))?;
    let nonce = headers
        .nonce
        .as_deref()
        .ok_or(VerifyError::MissingHeader("Wechatpay-Nonce"))?;
    let serial = headers
        .serial
        .as_deref()
        .ok_or(VerifyError::MissingHeader("Wechatpay-Serial"))?;
    let ts: i64 = timestamp.trim().parse().map_err(|_| VerifyError::Stale)?;
    if (now.timestamp() - ts).abs() > MAX_SKEW_SECS {
        return Err(VerifyError::Stale);
    }
    let key = keys
        .platform_key(serial)
        .ok_or_else(|| VerifyError::UnknownSerial(serial.to_owned()))?;
    let mut message = Vec::with_capacity(body.len() + 64);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(nonce.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    message.push(b'\n');
    if verify_sha256(key, &message, signature) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// Verifies the raw notification, then decrypts its resource.
pub fn verify_notification(
    keys: &WechatKeys,
    headers: &SignedHeaders,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Verified, VerifyError> {
    verify_signature(keys, headers, body, now)?;
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| VerifyError::Malformed(e.to_string()))?;
    if envelope.resource.algorithm != "AEAD_AES_256_GCM" {
        return Err(VerifyError::Malformed(format!(
            "algorithm {}",
            envelope.resource.algorithm
        )));
    }
    let plain = decrypt_resource(&keys.api_v3_key, &envelope.resource)?;
    let resource =
        serde_json::from_slice(&plain).map_err(|e| VerifyError::Malformed(e.to_string()))?;
    Ok(Verified { envelope, resource })
}

/// AES-256-GCM decryption of a resource with the APIv3 key.
pub fn decrypt_resource(api_v3_key: &[u8], resource: &Resource) -> Result<Vec<u8>, VerifyError> {
    if api_v3_key.len() != 32 {
        return Err(VerifyError::Decrypt("the APIv3 key is not 32 bytes"));
    }
    if resource.nonce.len() != 12 {
        return Err(VerifyError::Decrypt("the nonce is not 12 bytes"));
    }
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(resource.ciphertext.trim())
        .map_err(|_| VerifyError::Decrypt("the ciphertext is not base64"))?;
    if ciphertext.len() < 16 {
        return Err(VerifyError::Decrypt(
            "the ciphertext is shorter than its tag",
        ));
    }
    let cipher = Aes256Gcm::new_from_slice(api_v3_key)
        .map_err(|_| VerifyError::Decrypt("the APIv3 key is not 32 bytes"))?;
    cipher
        .decrypt(
            Nonce::from_slice(resource.nonce.as_bytes()),
            Payload {
                msg: &ciphertext,
                aad: resource.associated_data.as_deref().unwrap_or("").as_bytes(),
            },
        )
        .map_err(|_| VerifyError::Decrypt("authentication failed (wrong APIv3 key?)"))
}

/// AES-256-GCM encryption of a resource (the sandbox's side, and tests).
pub fn encrypt_resource(
    api_v3_key: &[u8],
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<String, VerifyError> {
    if nonce.len() != 12 {
        return Err(VerifyError::Decrypt("the nonce is not 12 bytes"));
    }
    let cipher = Aes256Gcm::new_from_slice(api_v3_key)
        .map_err(|_| VerifyError::Decrypt("the APIv3 key is not 32 bytes"))?;
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(nonce.as_bytes()),
            Payload {
                msg: plaintext,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| VerifyError::Decrypt("encryption failed"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}
