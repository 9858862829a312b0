//! The door page's top-up form (`POST /t/{account_no}/pay`): a preset or custom amount and a
//! provider, validated here, confirmed by the payer, then handed to the payment service, which
//! answers the provider's page to go to.
//!
//! Rules it keeps: the same amount rules as the counter; nothing starts before the payer
//! confirms; inside WeChat, Alipay is refused with the "open in your browser" guidance
//! (PAYMENTS.md); until the payments engine is wired in, the page says plainly that online
//! payment is not available instead of pretending.

use std::collections::BTreeMap;

use actix_web::{post, web, HttpResponse};
use minijinja::context;
use serde::Deserialize;

use super::counter::parse_amount;
use super::door;
use super::i18n::text;
use super::page::{Web, WebError};

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

#[post("/t/{account_no}/pay")]
pub async fn submit(
    web: Web,
    path: web::Path<String>,
    form: web::Form<PayForm>,
) -> Result<HttpResponse, WebError> {
    web.check_csrf(&form.csrf)?;
    let state = web.state()?.clone();
    let account = door::find(&state.db, &path).await?;
    let raw = if form.custom.trim().is_empty() {
        form.preset.trim()
    } else {
        form.custom.trim()
    };
    let provider = if form.provider == "alipay" {
        "alipay"
    } else {
        "wechat"
    };
    let refill = context! { preset => form.preset.trim(), custom => form.custom.trim(), provider => provider };
    let amount = match parse_amount(raw) {
        Ok(amount) => amount,
        Err(key) => {
            let errors = BTreeMap::from([("amount", key)]);
            let d = door::door_view(&state, &account).await?;
            return door::render(
                &web,
                &d,
                None,
                false,
                &refill,
                &minijinja::Value::from_serialize(&errors),
            )
            .map(|mut res| {
                *res.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
                res
            });
        }
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
                    provider => provider,
                },
            },
        );
    }
    // The payments engine (issue 6) is not in the API yet: say so rather than fail later.
    let d = door::door_view(&state, &account).await?;
    door::render(
        &web,
        &d,
        Some(text(web.lang, "pay_unavailable")),
        true,
        &refill,
        &context! {},
    )
}
