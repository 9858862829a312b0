//! Alipay (open platform, RSA2): the signature rules of the official SDKs ([`sign`]) and the
//! gateway client for WAP pay, `alipay.trade.query` and `alipay.trade.refund` ([`client`]).

pub mod client;
pub mod sign;

use rsa::{RsaPrivateKey, RsaPublicKey};

/// One Alipay merchant (app) and its keys, unsealed.
#[derive(Clone)]
pub struct AlipayKeys {
    pub app_id: String,
    pub app_private_key: RsaPrivateKey,
    pub alipay_public_key: RsaPublicKey,
    pub seller_id: Option<String>,
}

impl std::fmt::Debug for AlipayKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlipayKeys")
            .field("app_id", &self.app_id)
            .field("seller_id", &self.seller_id)
            .finish_non_exhaustive()
    }
}
