//! The Alipay gateway client: the WAP pay URL (`alipay.trade.wap.pay`, signed and handed to
//! the phone), `alipay.trade.query` and `alipay.trade.refund`. Every answer's signature is
//! verified with the Alipay public key over the exact `*_response` JSON text.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::Money;

use super::sign::{response_node, sign_params};
use super::AlipayKeys;
use crate::error::PaymentError;
use crate::key::verify_sha256;

/// The real gateway.
pub const DEFAULT_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";

/// What `alipay.trade.query` says about an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TradeStatus {
    pub trade_no: String,
    pub out_trade_no: String,
    /// `WAIT_BUYER_PAY`, `TRADE_CLOSED`, `TRADE_SUCCESS`, `TRADE_FINISHED`.
    pub trade_status: String,
    pub total_fen: i64,
}

pub struct AlipayClient<'a> {
    pub http: &'a reqwest::Client,
    pub gateway: &'a str,
    pub keys: &'a AlipayKeys,
}

/// Alipay timestamps are Beijing time, `yyyy-MM-dd HH:mm:ss`.
fn beijing(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Yuan with two decimals from fen (Alipay amounts are yuan strings).
pub fn yuan(fen: i64) -> String {
    Money::from_fen(fen).to_string()
}

impl AlipayClient<'_> {
    fn signed_params(
        &self,
        method: &str,
        biz: &serde_json::Value,
        notify_url: Option<&str>,
    ) -> Result<BTreeMap<String, String>, PaymentError> {
        let mut params = BTreeMap::new();
        params.insert("app_id".to_owned(), self.keys.app_id.clone());
        params.insert("method".to_owned(), method.to_owned());
        params.insert("format".to_owned(), "JSON".to_owned());
        params.insert("charset".to_owned(), "utf-8".to_owned());
        params.insert("sign_type".to_owned(), "RSA2".to_owned());
        params.insert("timestamp".to_owned(), beijing(Utc::now()));
        params.insert("version".to_owned(), "1.0".to_owned());
        params.insert("biz_content".to_owned(), biz.to_string());
        if let Some(url) = notify_url {
            params.insert("notify_url".to_owned(), url.to_owned());
        }
        let sign = sign_params(&self.keys.app_private_key, &params)?;
        params.insert("sign".to_owned(), sign);
        Ok(params)
    }

    fn url_with(&self, params: &BTreeMap<String, String>) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        format!("{}?{query}", self.gateway)
    }

    /// The signed URL the phone opens to pay by Alipay WAP.
    pub fn wap_pay_url(
        &self,
        out_trade_no: &str,
        amount_fen: i64,
        subject: &str,
        notify_url: &str,
        return_url: Option<&str>,
        expires_at: DateTime<Utc>,
    ) -> Result<String, PaymentError> {
        let biz = serde_json::json!({
            "out_trade_no": out_trade_no,
            "total_amount": yuan(amount_fen),
            "subject": subject,
            "product_code": "QUICK_WAP_WAY",
            "time_expire": beijing(expires_at),
        });
        let mut params = self.signed_params("alipay.trade.wap.pay", &biz, Some(notify_url))?;
        if let Some(url) = return_url {
            // return_url is signed too: re-sign with it present.
            params.remove("sign");
            params.insert("return_url".to_owned(), url.to_owned());
            let sign = sign_params(&self.keys.app_private_key, &params)?;
            params.insert("sign".to_owned(), sign);
        }
        Ok(self.url_with(&params))
    }

    async fn call(
        &self,
        method: &str,
        biz: &serde_json::Value,
    ) -> Result<serde_json::Value, PaymentError> {
        let params = self.signed_params(method, biz, None)?;
        // Built before the request: the serializer is not `Send` and must not live across
        // the await below.
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        let res = self
            .http
            .post(self.gateway)
            .header(
                "Content-Type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(form)
            .send()
            .await
            .map_err(|e| PaymentError::Provider(format!("Alipay unreachable: {e}")))?;
        let text = res
            .text()
            .await
            .map_err(|e| PaymentError::Provider(format!("Alipay answer: {e}")))?;
        let node_name = format!("{}_response", method.replace('.', "_"));
        let (node, sign) = response_node(&text, &node_name)
            .ok_or_else(|| PaymentError::Provider(format!("Alipay answer lacks {node_name}")))?;
        let node_json: serde_json::Value = serde_json::from_str(node)
            .map_err(|e| PaymentError::Provider(format!("Alipay answer: {e}")))?;
        // Alipay signs successful answers; an error answer may come unsigned.
        let success = node_json["code"].as_str() == Some("10000");
        match sign {
            Some(sign) if verify_sha256(&self.keys.alipay_public_key, node.as_bytes(), &sign) => {}
            None if !success => {}
            _ => {
                return Err(PaymentError::Verification(
                    "Alipay answer signature does not verify".into(),
                ))
            }
        }
        Ok(node_json)
    }

    /// `alipay.trade.query`; `None` when Alipay does not know the order (`ACQ.TRADE_NOT_EXIST`).
    pub async fn query(&self, out_trade_no: &str) -> Result<Option<TradeStatus>, PaymentError> {
        let node = self
            .call(
                "alipay.trade.query",
                &serde_json::json!({"out_trade_no": out_trade_no}),
            )
            .await?;
        if node["code"].as_str() != Some("10000") {
            if node["sub_code"].as_str() == Some("ACQ.TRADE_NOT_EXIST") {
                return Ok(None);
            }
            return Err(PaymentError::Provider(format!("Alipay query: {node}")));
        }
        let total = node["total_amount"].as_str().unwrap_or("");
        let total_fen = Money::parse_amount(total)
            .ok()
            .and_then(|m| m.to_fen().ok())
            .ok_or_else(|| PaymentError::Provider(format!("Alipay total_amount {total:?}")))?;
        Ok(Some(TradeStatus {
            trade_no: node["trade_no"].as_str().unwrap_or_default().to_owned(),
            out_trade_no: node["out_trade_no"].as_str().unwrap_or_default().to_owned(),
            trade_status: node["trade_status"].as_str().unwrap_or_default().to_owned(),
            total_fen,
        }))
    }

    /// `alipay.trade.refund`: synchronous; answers whether the money moved (`fund_change`).
    pub async fn refund(
        &self,
        out_trade_no: &str,
        out_request_no: &str,
        refund_fen: i64,
        reason: &str,
    ) -> Result<bool, PaymentError> {
        let node = self
            .call(
                "alipay.trade.refund",
                &serde_json::json!({
                    "out_trade_no": out_trade_no,
                    "out_request_no": out_request_no,
                    "refund_amount": yuan(refund_fen),
                    "refund_reason": reason,
                }),
            )
            .await?;
        if node["code"].as_str() != Some("10000") {
            return Err(PaymentError::Provider(format!("Alipay refund: {node}")));
        }
        Ok(node["fund_change"].as_str() == Some("Y"))
    }
}
