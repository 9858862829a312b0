//! Closing an account with its final settlement (销户) from the account page
//! (`POST /accounts/{id}/close`), answered with the settlement statement.
//!
//! Rules it keeps: the closing is the REST API's own service
//! ([`crate::service::settlement::close_account`]: final reading rated, balance refunded or
//! collected to exactly zero, meters tripped unless power is kept); nothing happens before the
//! manager confirms; its refusals (an amount due with a refund chosen, a final reading below
//! the register) are shown next to the field they concern.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpResponse};
use minijinja::{context, Value};
use serde::Deserialize;

use super::account::{self, parse_account_id, Refill};
use super::counter::parse_method;
use super::i18n::text;
use super::page::WebError;
use super::session::Manager;
use crate::service::settlement::{self, CloseRequest, Settlement};

#[derive(Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirmed: String,
    #[serde(default)]
    final_reading: String,
    #[serde(default)]
    settlement: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    keep_power: String,
}

/// Where a refusal of the closing service is shown, and in which words.
fn refusal(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "amount_due" => ("close_settlement", "err_close_amount_due"),
        "settlement_mismatch" => ("close_settlement", "err_close_mismatch"),
        "account_closed" => ("close_settlement", "err_account_closed"),
        "invalid_reading" | "register_went_down" | "duplicate_reading" | "reading_not_trusted" => {
            ("close_reading", "err_close_reading")
        }
        "no_meter" | "meter_ambiguous" => ("close_reading", "err_close_meters"),
        _ => return None,
    })
}

#[post("/accounts/{id}/close")]
pub async fn close(
    m: Manager,
    path: web::Path<String>,
    form: web::Form<CloseForm>,
) -> Result<HttpResponse, WebError> {
    m.web.check_csrf(&form.csrf)?;
    if !m.session.may_act() {
        return Err(WebError::Forbidden);
    }
    let id = parse_account_id(&path)?;
    let state = m.web.state()?.clone();
    let acct = store::account::get(&state.db, m.session.ctx().scope(), id).await?;
    let note: String = form.note.trim().chars().take(200).collect();
    let refill = || Refill {
        close_reading: form.final_reading.trim().to_owned(),
        close_settlement: form.settlement.clone(),
        close_note: note.clone(),
        ..Refill::default()
    };
    let mut errors = BTreeMap::new();
    let raw_reading = form.final_reading.trim();
    let reading = Some(raw_reading)
        .filter(|r| !r.is_empty())
        .map(|r| crate::routes::reading::parse_register("final_reading_kwh", r));
    if matches!(reading, Some(Err(_))) {
        errors.insert("close_reading", "err_close_reading");
    }
    let reading = reading.and_then(Result::ok);
    let settlement_kind = match form.settlement.as_str() {
        "refund" => Some(Settlement::Refund),
        "cash_refund" => Some(Settlement::CashRefund),
        "collect" => Some(Settlement::Collect),
        _ => {
            errors.insert("close_settlement", "err_close_settlement");
            None
        }
    };
    let method = parse_method(&form.method);
    let (Some(settlement_kind), Some(method), true) = (settlement_kind, method, errors.is_empty())
    else {
        return account::render(
            &m,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            refill(),
            Value::from_serialize(&errors),
        )
        .await;
    };
    let keep_power = form.keep_power == "1";
    if form.confirmed != "1" {
        let question = text(m.web.lang, "confirm_close_account")
            .replace("{account}", &acct.account_no)
            .replace("{balance}", &acct.balance().to_string());
        return m.web.render(
            "confirm.html",
            context! {
                body_class => "dashboard",
                question => question,
                action => format!("/accounts/{id}/close"),
                cancel => format!("/accounts/{id}"),
                fields => context! {
                    csrf => &m.web.csrf,
                    final_reading => form.final_reading.trim(),
                    settlement => &form.settlement,
                    method => method.as_str(),
                    note => &note,
                    keep_power => if keep_power { "1" } else { "0" },
                },
            },
        );
    }
    let req = CloseRequest {
        final_reading_wh: reading,
        settlement: settlement_kind,
        method,
        note: Some(note.clone()).filter(|n| !n.is_empty()),
        keep_power,
    };
    match settlement::close_account(&state.db, &state.pay.clients, &m.session.ctx(), id, req).await
    {
        Ok(statement) => m.web.render(
            "closing.html",
            context! { s => Value::from_serialize(&statement), account_id => id.to_string() },
        ),
        Err(e) => match refusal(e.code()) {
            Some((field, key)) => {
                let errors = BTreeMap::from([(field, key)]);
                account::render(
                    &m,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    refill(),
                    Value::from_serialize(&errors),
                )
                .await
            }
            None => Err(e.into()),
        },
    }
}
