//! WeChat web authorisation (网页授权, `snsapi_base`): inside WeChat's browser the door page
//! sends the payer to [`authorize_url`], WeChat redirects back with a `code`, and
//! [`exchange_code`] turns it into the payer's `openid` for a JSAPI order, silently.

use crate::error::PaymentError;

/// The real OAuth API host.
pub const DEFAULT_OAUTH_BASE: &str = "https://api.weixin.qq.com";
/// The real host of the authorisation page the payer is sent to.
pub const DEFAULT_AUTHORIZE_BASE: &str = "https://open.weixin.qq.com";

/// Where to send the payer; WeChat comes back to `redirect_uri?code=...&state=...`.
pub fn authorize_url(appid: &str, redirect_uri: &str, state: &str) -> String {
    authorize_url_at(DEFAULT_AUTHORIZE_BASE, appid, redirect_uri, state)
}

/// [`authorize_url`] on another host (tests point it at a local fake).
pub fn authorize_url_at(base: &str, appid: &str, redirect_uri: &str, state: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "{}/connect/oauth2/authorize?appid={}&redirect_uri={}&response_type=code&scope=snsapi_base&state={}#wechat_redirect",
        base.trim_end_matches('/'),
        enc(appid),
        enc(redirect_uri),
        enc(state)
    )
}

/// Exchanges the `code` WeChat handed back for the payer's `openid`.
pub async fn exchange_code(
    http: &reqwest::Client,
    base: &str,
    appid: &str,
    secret: &str,
    code: &str,
) -> Result<String, PaymentError> {
    let url = format!("{}/sns/oauth2/access_token", base.trim_end_matches('/'));
    let answer: serde_json::Value = http
        .get(url)
        .query(&[
            ("appid", appid),
            ("secret", secret),
            ("code", code),
            ("grant_type", "authorization_code"),
        ])
        .send()
        .await
        .map_err(|e| PaymentError::Provider(format!("WeChat OAuth unreachable: {e}")))?
        .json()
        .await
        .map_err(|e| PaymentError::Provider(format!("WeChat OAuth answer: {e}")))?;
    answer["openid"]
        .as_str()
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| PaymentError::Provider(format!("WeChat OAuth refused: {answer}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_snsapi_base_url() {
        assert_eq!(
            authorize_url("wx123", "https://pay.example.com/d/1234567890?x=1", "s1"),
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx123&redirect_uri=https%3A%2F%2Fpay.example.com%2Fd%2F1234567890%3Fx%3D1&response_type=code&scope=snsapi_base&state=s1#wechat_redirect"
        );
    }
}
