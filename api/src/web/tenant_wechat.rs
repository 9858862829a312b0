//! The door page inside WeChat (User-Agent with `MicroMessenger`), as PAYMENTS.md describes:
//! WeChat's web authorisation (网页授权, `snsapi_base`) gets the payer's openid silently, then
//! top-ups are JSAPI orders paid with `WeixinJSBridge.invoke('getBrandWCPayRequest', ...)` by
//! our own small script (`/static/tenant.js`); Alipay links are blocked in WeChat, so choosing
//! Alipay there shows "open in your browser" guidance instead.
//!
//! Rules it keeps: the authorisation runs only when the account's WeChat merchant has an
//! official-account secret and the browser holds no openid for its appid; the `state` round
//! trip is checked against an HttpOnly cookie (no forged callbacks); a failed exchange shows
//! the door page with a message, never another redirect (no loop); the hosts come from
//! configuration (`wechat_oauth_authorize_base`, `wechat_oauth_api_base`), so tests fake them.

use actix_web::cookie::time;
use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use minijinja::context;
use payments::merchant::MerchantKeys;
use payments::wechat::{oauth, WechatKeys};
use serde::Deserialize;
use store::payment::MerchantId;
use store::Account;

use super::door;
use super::i18n::text;
use super::page::{cookie, random_token, Web, WebError};
use crate::startup::AppState;

/// `{appid}:{openid}` of the payer, as WeChat's authorisation answered.
pub const OPENID_COOKIE: &str = "wp_wx_openid";
/// The `state` of an authorisation in flight.
const STATE_COOKIE: &str = "wp_wx_state";

/// Whether the request comes from WeChat's built-in browser.
pub fn in_wechat(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.contains("MicroMessenger"))
}

/// The WeChat keys of the merchant that takes this account's WeChat payments, when it is a
/// real WeChat merchant (the sandbox has no authorisation to run).
async fn wechat_keys(
    state: &AppState,
    a: &Account,
) -> Result<Option<(MerchantId, WechatKeys)>, WebError> {
    let offers = super::pay::offers(&state.db, a).await?;
    let Some(&(_, id)) = offers.iter().find(|(p, _)| *p == "wechat") else {
        return Ok(None);
    };
    let merchant = store::merchant::get(&state.db, a.organization_id, id).await?;
    match state.pay.clients.keys(&merchant) {
        Ok(MerchantKeys::Wechat(keys)) => Ok(Some((id, keys))),
        Ok(_) => Ok(None),
        Err(e) => Err(WebError::Internal(e.into())),
    }
}

/// The openid this browser holds for `appid`.
fn openid_of(req: &HttpRequest, appid: &str) -> Option<String> {
    let c = req.cookie(OPENID_COOKIE)?;
    let (for_app, openid) = c.value().split_once(':')?;
    (for_app == appid && !openid.is_empty()).then(|| openid.to_owned())
}

/// Where WeChat sends the payer back to.
fn callback_url(state: &AppState, account_no: &str) -> String {
    format!(
        "{}/t/{account_no}/wechat",
        state.settings.public_base_url.trim_end_matches('/')
    )
}

/// Inside WeChat, without an openid yet: the redirect to WeChat's authorisation page.
pub async fn authorise_first(
    web: &mut Web,
    state: &AppState,
    a: &Account,
) -> Result<Option<HttpResponse>, WebError> {
    if !in_wechat(&web.req) {
        return Ok(None);
    }
    let Some((_, keys)) = wechat_keys(state, a).await? else {
        return Ok(None);
    };
    if keys.oauth_secret.is_none() || openid_of(&web.req, &keys.appid).is_some() {
        return Ok(None);
    }
    let token = random_token();
    let mut c = cookie(STATE_COOKIE, &token, web.secure(), true);
    c.set_max_age(time::Duration::minutes(10));
    web.set_cookie(c);
    let url = oauth::authorize_url_at(
        &state.settings.wechat_oauth_authorize_base,
        &keys.appid,
        &callback_url(state, &a.account_no),
        &token,
    );
    // A plain 302: WeChat's browser follows it like a link.
    let mut res = web.redirect(&url);
    *res.status_mut() = actix_web::http::StatusCode::FOUND;
    Ok(Some(res))
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
}

/// WeChat comes back here with `code` and our `state`: the openid is asked for and kept.
#[get("/t/{account_no}/wechat")]
pub async fn callback(
    mut web: Web,
    path: web::Path<String>,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, WebError> {
    let state = web.state()?.clone();
    let a = door::find(&state.db, &path).await?;
    let expected = web.req.cookie(STATE_COOKIE).map(|c| c.value().to_owned());
    let mut gone = cookie(STATE_COOKIE, "", web.secure(), true);
    gone.make_removal();
    web.set_cookie(gone);
    let (Some(code), Some(got), Some(expected)) = (&q.code, &q.state, expected) else {
        return auth_failed(&web, &state, &a).await;
    };
    if !constant_time_eq(got, &expected) {
        tracing::warn!("WeChat authorisation came back with a state we did not send");
        return auth_failed(&web, &state, &a).await;
    }
    let Some((_, keys)) = wechat_keys(&state, &a).await? else {
        return auth_failed(&web, &state, &a).await;
    };
    let Some(secret) = keys.oauth_secret.as_deref() else {
        return auth_failed(&web, &state, &a).await;
    };
    let exchanged = oauth::exchange_code(
        &state.pay.clients.http,
        &state.settings.wechat_oauth_api_base,
        &keys.appid,
        secret,
        code,
    )
    .await;
    match exchanged {
        Ok(openid) => {
            let mut c = cookie(
                OPENID_COOKIE,
                &format!("{}:{openid}", keys.appid),
                web.secure(),
                true,
            );
            c.set_max_age(time::Duration::days(30));
            web.set_cookie(c);
            Ok(web.redirect(&format!("/t/{}", a.account_no)))
        }
        Err(e) => {
            tracing::warn!(error = %e, "WeChat authorisation failed");
            auth_failed(&web, &state, &a).await
        }
    }
}

/// The door page with "WeChat could not confirm who is paying" on top.
async fn auth_failed(web: &Web, state: &AppState, a: &Account) -> Result<HttpResponse, WebError> {
    let d = door::door_view(state, a).await?;
    let message = Some(text(web.lang, "tenant_wechat_auth_failed"));
    let form = context! { preset => "", custom => "", provider => "" };
    door::render(web, &d, message, true, &form, &context! {})
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// How a top-up from WeChat's browser is paid.
pub enum WechatPayer {
    /// Not inside WeChat, or not a WeChat payment: as in any browser.
    Browser,
    /// Inside WeChat with the payer's openid: a JSAPI order.
    Jsapi(String),
    /// Inside WeChat without an openid (the merchant has no official-account secret, or the
    /// authorisation failed): H5 is refused there, so nothing can be paid with WeChat.
    Unavailable,
}

/// Decides the WeChat channel of a door-page top-up.
pub async fn payer(
    web: &Web,
    state: &AppState,
    a: &Account,
    provider: &str,
) -> Result<WechatPayer, WebError> {
    if provider != "wechat" || !in_wechat(&web.req) {
        return Ok(WechatPayer::Browser);
    }
    Ok(match wechat_keys(state, a).await? {
        Some((_, keys)) => match openid_of(&web.req, &keys.appid) {
            Some(openid) => WechatPayer::Jsapi(openid),
            None => WechatPayer::Unavailable,
        },
        // The sandbox's page works anywhere.
        None => WechatPayer::Browser,
    })
}

/// The page that hands the JSAPI parameters to WeChat's payment sheet.
pub fn jsapi_page(
    web: &Web,
    a: &Account,
    amount: &str,
    pay: &serde_json::Value,
) -> Result<HttpResponse, WebError> {
    let params = serde_json::to_string(&pay["params"]).map_err(anyhow::Error::from)?;
    web.render(
        "tenant_jsapi.html",
        context! {
            account_no => &a.account_no,
            amount => amount,
            params => params,
            body_class => "door",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_states() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
