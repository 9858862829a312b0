//! The sandbox provider, the embedded default: a pretend WeChat Pay that signs notifications
//! exactly as WeChat v3 does, with its own RSA platform key and APIv3 key, so the demo and the
//! tests exercise the production notification path end to end.
//!
//! RSA key generation is slow (seconds without optimisation), so one platform key is generated
//! per process and copied into each sandbox merchant's sealed secrets; every merchant still
//! has its own APIv3 key and mchid. Sandbox money is pretend money: production configuration
//! turns sandbox merchants off.

use chrono::{DateTime, Utc};
use rsa::{RsaPrivateKey, RsaPublicKey};
use store::payment::PaymentOrder;

use crate::error::PaymentError;
use crate::key::{generate_private_key, private_key_pem, public_key_pem};
use crate::wechat::notify::SignedHeaders;
use crate::wechat::sign::{nonce, notification};
use crate::wechat::WechatKeys;

static PLATFORM_KEY: tokio::sync::OnceCell<RsaPrivateKey> = tokio::sync::OnceCell::const_new();

/// The serial under which the sandbox's platform key is published.
pub const SANDBOX_SERIAL_PREFIX: &str = "PUB_KEY_ID_SANDBOX";

async fn platform_key() -> Result<RsaPrivateKey, PaymentError> {
    PLATFORM_KEY
        .get_or_try_init(|| async {
            tokio::task::spawn_blocking(generate_private_key)
                .await
                .map_err(|e| PaymentError::Key(format!("key generation: {e}")))?
        })
        .await
        .cloned()
}

/// Public configuration and secrets of a new sandbox merchant.
pub async fn new_merchant_config() -> Result<(serde_json::Value, serde_json::Value), PaymentError> {
    let key = platform_key().await?;
    let public = RsaPublicKey::from(&key);
    let serial = format!("{SANDBOX_SERIAL_PREFIX}_{}", nonce(8).to_uppercase());
    Ok((
        serde_json::json!({
            "mchid": format!("sandbox{}", nonce(6).to_lowercase()),
            "appid": "wxsandbox",
            "merchant_serial": "SANDBOX",
            "platform_keys": [{"serial": serial, "public_key_pem": public_key_pem(&public)?}],
        }),
        serde_json::json!({
            "api_v3_key": nonce(32),
            "platform_private_key_pem": private_key_pem(&key)?,
        }),
    ))
}

/// The `TRANSACTION.SUCCESS` notification the sandbox sends when the order is paid: the
/// decrypted resource WeChat would send, encrypted and signed the v3 way.
pub fn paid_notification(
    keys: &WechatKeys,
    platform_key: &RsaPrivateKey,
    order: &PaymentOrder,
    transaction_id: &str,
    now: DateTime<Utc>,
) -> Result<(SignedHeaders, String), PaymentError> {
    let serial = keys
        .platform_keys
        .first()
        .map(|k| k.serial.clone())
        .ok_or_else(|| PaymentError::Key("sandbox merchant has no platform key".into()))?;
    let resource = serde_json::json!({
        "mchid": keys.mchid,
        "appid": keys.appid,
        "out_trade_no": order.out_trade_no,
        "transaction_id": transaction_id,
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        "payer": {"openid": "sandbox-payer"},
        "amount": {"total": order.amount_fen, "payer_total": order.amount_fen, "currency": "CNY", "payer_currency": "CNY"},
    });
    notification(
        platform_key,
        &serial,
        &keys.api_v3_key,
        "TRANSACTION.SUCCESS",
        &resource,
        now.timestamp(),
    )
}

/// A fresh sandbox transaction id (WeChat's are 28 digits; ours say "sandbox").
pub fn transaction_id() -> String {
    format!("sandbox{}", uuid::Uuid::now_v7().simple())
}
