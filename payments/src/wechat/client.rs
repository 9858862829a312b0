//! The WeChat Pay v3 HTTP client: JSAPI, H5 and Native orders, the order query and refunds.
//! Every request is signed with the merchant key; every answer's signature is verified with the
//! platform key before its body is believed (a man in the middle cannot fake "paid").

use chrono::{DateTime, Utc};
use reqwest::Method;

use super::notify::{verify_signature, SignedHeaders};
use super::sign::{authorization, jsapi_params, nonce};
use super::{Transaction, WechatKeys};
use crate::error::PaymentError;

/// The real API host.
pub const DEFAULT_API_BASE: &str = "https://api.mch.weixin.qq.com";

/// What an order is created for.
#[derive(Clone, Debug)]
pub struct OrderRequest<'a> {
    pub channel: &'a str,
    pub out_trade_no: &'a str,
    pub amount_fen: i64,
    pub description: &'a str,
    pub notify_url: &'a str,
    pub expires_at: DateTime<Utc>,
    pub openid: Option<&'a str>,
    pub client_ip: Option<&'a str>,
}

/// A refund the provider accepted (it settles later, by notification).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundStarted {
    pub refund_id: Option<String>,
    pub status: String,
}

pub struct WechatClient<'a> {
    pub http: &'a reqwest::Client,
    pub base: &'a str,
    pub keys: &'a WechatKeys,
}

impl WechatClient<'_> {
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, serde_json::Value), PaymentError> {
        let key = self
            .keys
            .merchant_key
            .as_ref()
            .ok_or_else(|| PaymentError::Provider("merchant has no private key".into()))?;
        let body_text = body.map(ToString::to_string).unwrap_or_default();
        let now = Utc::now();
        let auth = authorization(
            &self.keys.mchid,
            &self.keys.merchant_serial,
            key,
            method.as_str(),
            path_and_query,
            &body_text,
            now.timestamp(),
            &nonce(32),
        )?;
        let url = format!("{}{}", self.base.trim_end_matches('/'), path_and_query);
        let mut req = self
            .http
            .request(method, url)
            .header("Authorization", auth)
            .header("Accept", "application/json")
            .header("User-Agent", "wattpay-payments");
        if body.is_some() {
            req = req
                .header("Content-Type", "application/json")
                .body(body_text);
        }
        let res = req
            .send()
            .await
            .map_err(|e| PaymentError::Provider(format!("WeChat Pay unreachable: {e}")))?;
        let status = res.status().as_u16();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let headers = SignedHeaders::from_lookup(header);
        let text = res
            .bytes()
            .await
            .map_err(|e| PaymentError::Provider(format!("WeChat Pay answer: {e}")))?;
        if (200..300).contains(&status) {
            verify_signature(self.keys, &headers, &text, Utc::now()).map_err(|e| {
                PaymentError::Verification(format!("WeChat Pay answer signature: {e}"))
            })?;
        }
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&text)
                .map_err(|e| PaymentError::Provider(format!("WeChat Pay answer: {e}")))?
        };
        Ok((status, json))
    }

    /// Creates the provider's order and answers the `pay` instructions for the phone.
    pub async fn create_order(
        &self,
        order: &OrderRequest<'_>,
    ) -> Result<serde_json::Value, PaymentError> {
        let mut body = serde_json::json!({
            "appid": self.keys.appid,
            "mchid": self.keys.mchid,
            "description": order.description,
            "out_trade_no": order.out_trade_no,
            "time_expire": order.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            "notify_url": order.notify_url,
            "amount": {"total": order.amount_fen, "currency": "CNY"},
        });
        let path = match order.channel {
            "jsapi" => {
                let openid = order.openid.ok_or_else(|| {
                    PaymentError::rejected("openid_required", "JSAPI needs openid")
                })?;
                body["payer"] = serde_json::json!({"openid": openid});
                "/v3/pay/transactions/jsapi"
            }
            "h5" => {
                body["scene_info"] = serde_json::json!({
                    "payer_client_ip": order.client_ip.unwrap_or("127.0.0.1"),
                    "h5_info": {"type": "Wap"},
                });
                "/v3/pay/transactions/h5"
            }
            "native" => "/v3/pay/transactions/native",
            other => {
                return Err(PaymentError::rejected(
                    "invalid_channel",
                    format!("WeChat Pay has no channel {other}"),
                ))
            }
        };
        let (status, answer) = self.call(Method::POST, path, Some(&body)).await?;
        if !(200..300).contains(&status) {
            return Err(PaymentError::Provider(format!(
                "WeChat Pay refused the order ({status}): {answer}"
            )));
        }
        let field = |name: &str| {
            answer[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| PaymentError::Provider(format!("WeChat Pay answer lacks {name}")))
        };
        let key = self
            .keys
            .merchant_key
            .as_ref()
            .ok_or_else(|| PaymentError::Provider("merchant has no private key".into()))?;
        Ok(match order.channel {
            "jsapi" => serde_json::json!({
                "kind": "jsapi",
                "params": jsapi_params(
                    &self.keys.appid,
                    &field("prepay_id")?,
                    key,
                    Utc::now().timestamp(),
                    &nonce(32),
                )?,
            }),
            "h5" => serde_json::json!({"kind": "h5", "h5_url": field("h5_url")?}),
            _ => serde_json::json!({"kind": "native", "code_url": field("code_url")?}),
        })
    }

    /// The order as WeChat Pay knows it; `None` when it does not know it (`ORDER_NOT_EXIST`).
    pub async fn query(&self, out_trade_no: &str) -> Result<Option<Transaction>, PaymentError> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}",
            self.keys.mchid
        );
        let (status, answer) = self.call(Method::GET, &path, None).await?;
        if status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(PaymentError::Provider(format!(
                "WeChat Pay query failed ({status}): {answer}"
            )));
        }
        serde_json::from_value(answer)
            .map(Some)
            .map_err(|e| PaymentError::Provider(format!("WeChat Pay query answer: {e}")))
    }

    /// Asks for a refund of `refund_fen` of the order's `total_fen`.
    pub async fn refund(
        &self,
        out_trade_no: &str,
        out_refund_no: &str,
        refund_fen: i64,
        total_fen: i64,
        reason: &str,
        notify_url: &str,
    ) -> Result<RefundStarted, PaymentError> {
        let body = serde_json::json!({
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "reason": reason,
            "notify_url": notify_url,
            "amount": {"refund": refund_fen, "total": total_fen, "currency": "CNY"},
        });
        let (status, answer) = self
            .call(Method::POST, "/v3/refund/domestic/refunds", Some(&body))
            .await?;
        if !(200..300).contains(&status) {
            return Err(PaymentError::Provider(format!(
                "WeChat Pay refused the refund ({status}): {answer}"
            )));
        }
        Ok(RefundStarted {
            refund_id: answer["refund_id"].as_str().map(str::to_owned),
            status: answer["status"].as_str().unwrap_or("PROCESSING").to_owned(),
        })
    }
}
