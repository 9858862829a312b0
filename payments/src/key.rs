//! Reading RSA keys as merchants hand them to us: PKCS#8 or PKCS#1 private keys in PEM or as
//! the bare base64 body Alipay's key tool prints; public keys as SPKI or PKCS#1 PEM, bare
//! base64, or inside an X.509 certificate (WeChat platform certificates, whose serial names
//! the key in `Wechatpay-Serial`).
//!
//! Also the RSASSA-PKCS1-v1_5 SHA-256 signing and verifying both providers use.

use std::fmt::Write as _;

use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use x509_cert::der::{DecodePem, Encode};

use crate::error::PaymentError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn key_err(what: &str) -> PaymentError {
    PaymentError::Key(format!(
        "{what} is not a PKCS#8 or PKCS#1 RSA key (PEM or base64)"
    ))
}

/// The DER bytes of bare base64 (whitespace ignored), if that is what `text` is.
fn bare_der(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(compact).ok()
}

/// A private key in any of the accepted forms.
pub fn parse_private_key(text: &str) -> Result<RsaPrivateKey, PaymentError> {
    let text = text.trim();
    if text.contains("-----BEGIN") {
        return RsaPrivateKey::from_pkcs8_pem(text)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(text))
            .map_err(|_| key_err("the private key"));
    }
    let der = bare_der(text).ok_or_else(|| key_err("the private key"))?;
    RsaPrivateKey::from_pkcs8_der(&der)
        .or_else(|_| RsaPrivateKey::from_pkcs1_der(&der))
        .map_err(|_| key_err("the private key"))
}

/// A public key in any of the accepted forms (certificate PEM included).
pub fn parse_public_key(text: &str) -> Result<RsaPublicKey, PaymentError> {
    let text = text.trim();
    if text.contains("-----BEGIN CERTIFICATE") {
        return Ok(parse_certificate(text)?.1);
    }
    if text.contains("-----BEGIN") {
        return RsaPublicKey::from_public_key_pem(text)
            .or_else(|_| RsaPublicKey::from_pkcs1_pem(text))
            .map_err(|_| key_err("the public key"));
    }
    let der = bare_der(text).ok_or_else(|| key_err("the public key"))?;
    RsaPublicKey::from_public_key_der(&der)
        .or_else(|_| RsaPublicKey::from_pkcs1_der(&der))
        .map_err(|_| key_err("the public key"))
}

/// The serial (upper-case hex, as WeChat sends it) and RSA public key of a certificate PEM.
pub fn parse_certificate(pem: &str) -> Result<(String, RsaPublicKey), PaymentError> {
    let cert = x509_cert::Certificate::from_pem(pem.trim().as_bytes())
        .map_err(|e| PaymentError::Key(format!("certificate: {e}")))?;
    let serial =
        cert.tbs_certificate
            .serial_number
            .as_bytes()
            .iter()
            .fold(String::new(), |mut hex, b| {
                let _ = write!(hex, "{b:02X}");
                hex
            });
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| PaymentError::Key(format!("certificate key: {e}")))?;
    let key = RsaPublicKey::from_public_key_der(&spki)
        .map_err(|e| PaymentError::Key(format!("certificate key is not RSA: {e}")))?;
    // A serial with a leading zero byte (DER sign padding) is printed by WeChat without it.
    let serial = serial
        .strip_prefix("00")
        .map_or(serial.clone(), str::to_owned);
    Ok((serial, key))
}

/// PKCS#8 PEM of a private key (what we store, sealed).
pub fn private_key_pem(key: &RsaPrivateKey) -> Result<String, PaymentError> {
    key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|e| PaymentError::Key(e.to_string()))
}

/// SPKI PEM of a public key.
pub fn public_key_pem(key: &RsaPublicKey) -> Result<String, PaymentError> {
    key.to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|e| PaymentError::Key(e.to_string()))
}

/// A fresh 2048-bit key (sandbox merchants). Slow: call it off the async threads.
pub fn generate_private_key() -> Result<RsaPrivateKey, PaymentError> {
    RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| PaymentError::Key(e.to_string()))
}

/// SHA256withRSA (RSASSA-PKCS1-v1_5) signature of `message`, base64.
pub fn sign_sha256(key: &RsaPrivateKey, message: &[u8]) -> Result<String, PaymentError> {
    let digest = Sha256::digest(message);
    let signature = key
        .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
        .map_err(|e| PaymentError::Key(format!("signing: {e}")))?;
    Ok(B64.encode(signature))
}

/// Whether `signature_b64` is a valid SHA256withRSA signature of `message` by `key`.
pub fn verify_sha256(key: &RsaPublicKey, message: &[u8], signature_b64: &str) -> bool {
    let Ok(signature) = B64.decode(signature_b64.trim()) else {
        return false;
    };
    let digest = Sha256::digest(message);
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn signs_and_verifies_with_every_key_form() {
        let key = generate_private_key().unwrap();
        let public = RsaPublicKey::from(&key);
        let pem = private_key_pem(&key).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let pkcs1 = {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                .unwrap()
                .to_string()
        };
        for form in [pem.as_str(), body.as_str(), pkcs1.as_str()] {
            let parsed = parse_private_key(form).unwrap();
            let sig = sign_sha256(&parsed, b"hello").unwrap();
            assert!(verify_sha256(&public, b"hello", &sig));
            assert!(!verify_sha256(&public, b"hello!", &sig));
        }
        let public_pem = public_key_pem(&public).unwrap();
        let public_body: String = public_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert_eq!(parse_public_key(&public_pem).unwrap(), public);
        assert_eq!(parse_public_key(&public_body).unwrap(), public);
        assert!(parse_private_key("not a key").is_err());
        assert!(
            parse_public_key("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
                .is_err()
        );
    }
}
