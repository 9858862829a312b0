//! Signing the WeChat v3 way: our API requests (`Authorization: WECHATPAY2-SHA256-RSA2048
//! ...` over `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n`), the JSAPI `paySign` (over
//! `appId\ntimeStamp\nnonceStr\npackage\n`), and notifications as WeChat signs them (the
//! sandbox provider, and tests).

use rand::distributions::{Alphanumeric, DistString};
use rsa::RsaPrivateKey;

use super::notify::{encrypt_resource, SignedHeaders};
use crate::error::PaymentError;
use crate::key::sign_sha256;

/// A random alphanumeric nonce of `len` characters.
pub fn nonce(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, len)
}

/// The `Authorization` header of a v3 API request.
#[allow(clippy::too_many_arguments)]
pub fn authorization(
    mchid: &str,
    serial: &str,
    key: &RsaPrivateKey,
    method: &str,
    path_and_query: &str,
    body: &str,
    timestamp: i64,
    nonce: &str,
) -> Result<String, PaymentError> {
    let message = format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body}\n");
    let signature = sign_sha256(key, message.as_bytes())?;
    Ok(format!(
        "WECHATPAY2-SHA256-RSA2048 mchid=\"{mchid}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{serial}\""
    ))
}

/// The JSAPI parameters the phone passes to `WeixinJSBridge.invoke('getBrandWCPayRequest')`.
pub fn jsapi_params(
    appid: &str,
    prepay_id: &str,
    key: &RsaPrivateKey,
    timestamp: i64,
    nonce_str: &str,
) -> Result<serde_json::Value, PaymentError> {
    let package = format!("prepay_id={prepay_id}");
    let message = format!("{appid}\n{timestamp}\n{nonce_str}\n{package}\n");
    let pay_sign = sign_sha256(key, message.as_bytes())?;
    Ok(serde_json::json!({
        "appId": appid,
        "timeStamp": timestamp.to_string(),
        "nonceStr": nonce_str,
        "package": package,
        "signType": "RSA",
        "paySign": pay_sign,
    }))
}

/// Signs `body` as WeChat signs a notification or response.
pub fn sign_body(
    platform_key: &RsaPrivateKey,
    serial: &str,
    body: &str,
    timestamp: i64,
) -> Result<SignedHeaders, PaymentError> {
    let nonce = nonce(32);
    let message = format!("{timestamp}\n{nonce}\n{body}\n");
    Ok(SignedHeaders {
        timestamp: Some(timestamp.to_string()),
        nonce: Some(nonce),
        signature: Some(sign_sha256(platform_key, message.as_bytes())?),
        serial: Some(serial.to_owned()),
        signature_type: Some("WECHATPAY2-SHA256-RSA2048".to_owned()),
    })
}

/// A complete notification as WeChat would send it: the resource encrypted with the APIv3 key,
/// the envelope, and the signed headers. Answers `(headers, body)`.
pub fn notification(
    platform_key: &RsaPrivateKey,
    serial: &str,
    api_v3_key: &[u8],
    event_type: &str,
    resource: &serde_json::Value,
    timestamp: i64,
) -> Result<(SignedHeaders, String), PaymentError> {
    let resource_nonce = nonce(12);
    let (original_type, associated_data) = if event_type.starts_with("REFUND.") {
        ("refund", "refund")
    } else {
        ("transaction", "transaction")
    };
    let ciphertext = encrypt_resource(
        api_v3_key,
        &resource_nonce,
        associated_data,
        resource.to_string().as_bytes(),
    )
    .map_err(|e| PaymentError::Key(e.to_string()))?;
    let body = serde_json::json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "create_time": chrono::Utc::now().to_rfc3339(),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功",
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": associated_data,
            "nonce": resource_nonce,
        }
    })
    .to_string();
    let headers = sign_body(platform_key, serial, &body, timestamp)?;
    Ok((headers, body))
}
