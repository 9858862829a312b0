//! WeChat Pay API v3: notification verification and decryption ([`notify`]), request signing
//! and the JSAPI `paySign` ([`sign`]), and the HTTP client for orders, queries and refunds
//! ([`client`]). The sandbox provider reuses all of it with its own keys.

pub mod client;
pub mod notify;
pub mod oauth;
pub mod sign;

use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;

/// A WeChat platform key (certificate or WeChat Pay public key), named by its serial or
/// `PUB_KEY_ID_...`. Several are kept at once during a rotation.
#[derive(Clone, Debug)]
pub struct PlatformKey {
    pub serial: String,
    pub key: RsaPublicKey,
}

/// One WeChat merchant's identities and keys, unsealed.
#[derive(Clone)]
pub struct WechatKeys {
    pub mchid: String,
    pub appid: String,
    pub merchant_serial: String,
    /// Signs our requests (and, for the sandbox, nothing: it has no API to call).
    pub merchant_key: Option<RsaPrivateKey>,
    pub platform_keys: Vec<PlatformKey>,
    /// The 32 bytes of the APIv3 key.
    pub api_v3_key: Vec<u8>,
    pub oauth_secret: Option<String>,
}

impl std::fmt::Debug for WechatKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatKeys")
            .field("mchid", &self.mchid)
            .field("appid", &self.appid)
            .field("merchant_serial", &self.merchant_serial)
            .finish_non_exhaustive()
    }
}

impl WechatKeys {
    pub fn platform_key(&self, serial: &str) -> Option<&RsaPublicKey> {
        self.platform_keys
            .iter()
            .find(|k| same_serial(&k.serial, serial))
            .map(|k| &k.key)
    }
}

/// Whether two key serials name the same key: case-insensitive, and a certificate serial's
/// leading zeros do not count (a serial whose first byte is below 0x10 prints as 39 hex digits
/// in some tools and 40 in others).
fn same_serial(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().trim_start_matches('0').to_ascii_uppercase();
    norm(a) == norm(b)
}

/// The decrypted resource of a `TRANSACTION.*` notification (or an order query answer).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Transaction {
    pub mchid: String,
    pub appid: String,
    pub out_trade_no: String,
    #[serde(default)]
    pub transaction_id: Option<String>,
    pub trade_state: String,
    #[serde(default)]
    pub success_time: Option<String>,
    #[serde(default)]
    pub amount: Option<TransactionAmount>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct TransactionAmount {
    /// Fen.
    pub total: i64,
    #[serde(default)]
    pub payer_total: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// The decrypted resource of a `REFUND.*` notification.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct RefundResource {
    pub mchid: String,
    pub out_trade_no: String,
    pub out_refund_no: String,
    #[serde(default)]
    pub refund_id: Option<String>,
    pub refund_status: String,
    pub amount: RefundAmount,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct RefundAmount {
    pub total: i64,
    pub refund: i64,
}

#[cfg(test)]
mod tests {
    use super::same_serial;

    #[test]
    fn serials_match_regardless_of_case_and_leading_zeros() {
        assert!(same_serial(
            "0D8B1834A83C20468C8C8BC3C521AA252AFB4D0D",
            "d8b1834a83c20468c8c8bc3c521aa252afb4d0d"
        ));
        assert!(same_serial("PUB_KEY_ID_0114", " PUB_KEY_ID_0114 "));
        assert!(!same_serial("0D8B18", "D8B19"));
        assert!(!same_serial("PUB_KEY_ID_0114", "PUB_KEY_ID_0115"));
    }
}
