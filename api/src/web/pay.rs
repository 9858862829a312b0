//! The door page's top-up form (`POST /t/{account_no}/pay`): a preset or custom amount and a
//! provider, validated here, confirmed by the payer, then handed to the payments service
//! (`payments::order::create_order`), whose answer says which provider page the browser goes
//! to next.
//!
//! Rules it keeps: the same amount rules as the counter; nothing starts before the payer
//! confirms; only the providers the account's organization has an enabled merchant for are
//! offered; the same per-address order limit as `POST /api/v1/pay/orders`; a refusal of the
//! payments service is shown on the door page, never as an error page.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpResponse};
use minijinja::context;
use payments::order::OrderRequest;
use payments::PaymentError;
use serde::Deserialize;
use store::payment::MerchantId;
use store::{Account, StoreError};

use super::counter::parse_amount;
use super::door;
use super::i18n::text;
use super::page::{Web, WebError};
use super::tenant_wechat::{self, WechatPayer};
use crate::startup::AppState;

/// The providers in the order the form lists them.
const PROVIDERS: [&str; 3] = ["wechat", "alipay", "sandbox"];

#[derive(Deserialize)]
pub struct PayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirmed: String,
    #[serde(default)]
    preset: String,
    #[serde(default)]
    custom: String,
    #[serde(default)]
    provider: String,
}

/// The providers this account can be paid with online, each with the merchant that takes it:
/// the site's (or organization's) default merchant for its provider, else the first enabled
/// merchant of that provider that is not another site's.
pub async fn offers(
    db: &sea_orm::DatabaseConnection,
    a: &Account,
) -> Result<Vec<(&'static str, MerchantId)>, StoreError> {
    let org = a.organization_id;
    let unit = store::unit::get(db, org, a.unit_id).await?;
    let site = store::building::get(db, org, unit.building_id)
        .await?
        .site_id;
    let default = store::merchant::default_for(db, org, Some(site)).await?;
    let all = store::merchant::list(db, org, store::Page::new(1, 100))
        .await?
        .items;
    Ok(PROVIDERS
        .into_iter()
        .filter_map(|p| {
            default
                .iter()
                .chain(
                    all.iter()
                        .filter(|m| m.enabled && m.default_site_id.is_none_or(|s| s == site)),
                )
                .find(|m| m.provider == p)
                .map(|m| (p, m.id))
        })
        .collect())
}

#[post("/t/{account_no}/pay")]
pub async fn submit(
    web: Web,
    path: web::Path<String>,
    form: web::Form<PayForm>,
) -> Result<HttpResponse, WebError> {
    web.check_csrf(&form.csrf)?;
    let state = web.state()?.clone();
    let account = door::find(&state.db, &path).await?;
    let offered = offers(&state.db, &account).await?;
    let raw = if form.custom.trim().is_empty() {
        form.preset.trim()
    } else {
        form.custom.trim()
    };
    let refill = context! {
        preset => form.preset.trim(), custom => form.custom.trim(), provider => &form.provider,
    };
    let mut errors = BTreeMap::new();
    let amount = match parse_amount(raw) {
        Ok(amount) => Some(amount),
        Err(key) => {
            errors.insert("amount", key);
            None
        }
    };
    let merchant = offered
        .iter()
        .find(|(p, _)| *p == form.provider)
        .map(|&(_, m)| m);
    if merchant.is_none() {
        errors.insert("provider", "err_provider");
    } else if form.provider == "alipay" && super::tenant_wechat::in_wechat(&web.req) {
        // WeChat blocks Alipay's pages: say how to get out of WeChat instead.
        errors.insert("provider", "alipay_in_wechat");
    }
    let (Some(amount), Some(merchant), true) = (amount, merchant, errors.is_empty()) else {
        let d = door::door_view(&state, &account).await?;
        let errors = minijinja::Value::from_serialize(&errors);
        return door::render(&web, &d, None, false, &refill, &errors).map(unprocessable);
    };
    if form.confirmed != "1" {
        let question = text(web.lang, "confirm_topup")
            .replace("{account}", &account.account_no)
            .replace("{amount}", &amount.to_string());
        return web.render(
            "confirm.html",
            context! {
                body_class => "door",
                question => question,
                action => format!("/t/{}/pay", account.account_no),
                cancel => format!("/t/{}", account.account_no),
                fields => context! {
                    csrf => &web.csrf,
                    custom => amount.to_string(),
                    provider => &form.provider,
                },
            },
        );
    }
    let ip = web.req.peer_addr().map(|a| a.ip());
    let refused = |key: &'static str| refuse(&web, &state, &account, &refill, key);
    let openid = match tenant_wechat::payer(&web, &state, &account, &form.provider).await? {
        WechatPayer::Browser => None,
        WechatPayer::Jsapi(openid) => Some(openid),
        WechatPayer::Unavailable => return refused("tenant_wechat_unavailable").await,
    };
    if !state.pay.allow_order(ip) {
        return refused("pay_too_many").await;
    }
    let ip_text = ip.map(|ip| ip.to_string());
    let created = payments::order::create_order(
        &state.db,
        &state.pay.clients,
        OrderRequest {
            account_no: account.account_no.clone(),
            amount: amount.to_string(),
            provider: form.provider.clone(),
            merchant_id: Some(merchant.into()),
            // Browser channels: WeChat H5, Alipay WAP; inside WeChat, JSAPI with the openid of
            // its web authorisation.
            channel: openid.as_ref().map(|_| "jsapi".to_owned()),
            openid,
        },
        ip_text.as_deref(),
        chrono::Utc::now(),
    )
    .await;
    match created {
        Ok(order) if order.pay["kind"] == "jsapi" => {
            tenant_wechat::jsapi_page(&web, &account, &order.amount, &order.pay)
        }
        Ok(order) => match provider_page(&order.pay) {
            Some(url) => Ok(web.redirect(url)),
            None => refused("pay_unavailable").await,
        },
        Err(PaymentError::Rejected { code, detail }) => {
            tracing::info!(code, detail, "door page top-up refused");
            refused(match code {
                "too_many_pending_orders" => "pay_too_many",
                "amount_out_of_range" => "err_amount_range",
                _ => "pay_unavailable",
            })
            .await
        }
        Err(PaymentError::Provider(detail)) => {
            tracing::warn!(detail, "the provider did not create the order");
            refused("pay_provider_down").await
        }
        Err(other) => Err(WebError::Internal(other.into())),
    }
}

/// The door page again with the payments service's refusal on top.
async fn refuse(
    web: &Web,
    state: &AppState,
    account: &Account,
    refill: &minijinja::Value,
    key: &'static str,
) -> Result<HttpResponse, WebError> {
    let d = door::door_view(state, account).await?;
    let message = Some(text(web.lang, key));
    door::render(web, &d, message, true, refill, &context! {}).map(unprocessable)
}

/// Where the browser goes to pay: the sandbox's or Alipay's page, or WeChat's H5 page.
pub fn provider_page(pay: &serde_json::Value) -> Option<&str> {
    match pay["kind"].as_str()? {
        "sandbox" | "alipay_wap" => pay["url"].as_str(),
        "h5" => pay["h5_url"].as_str(),
        _ => None,
    }
}

fn unprocessable(mut res: HttpResponse) -> HttpResponse {
    *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_goes_to_the_provider_page() {
        let sandbox = serde_json::json!({"kind": "sandbox", "url": "/sandbox/pay/1"});
        assert_eq!(provider_page(&sandbox), Some("/sandbox/pay/1"));
        let h5 = serde_json::json!({"kind": "h5", "h5_url": "https://wx.example/h5"});
        assert_eq!(provider_page(&h5), Some("https://wx.example/h5"));
        let native = serde_json::json!({"kind": "native", "code_url": "weixin://x"});
        assert_eq!(provider_page(&native), None);
    }
}
