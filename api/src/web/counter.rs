//! Counter payment (柜台收费) from the account page: a cashier takes cash, a card or a transfer
//! at the property office and credits the account, with a numbered receipt to print.
//!
//! Rules it keeps: the amount is validated like the API's (`^\d+(\.\d{1,2})?$`, ¥0.01 to
//! ¥50,000) and errors are shown next to the field; nothing is posted before the cashier
//! confirms (a dialog with JavaScript, a confirmation page without); the posting is the REST
//! API's own service ([`crate::service::counter::take_payment`]: ledger entry, receipt,
//! outbox row and audit record in one transaction), with the form's one-time token as the
//! idempotency key, so a double submit credits once.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpResponse};
use domain::Money;
use minijinja::context;
use serde::Deserialize;
use store::counter::PaymentMethod;
use store::{AccountId, AccountStatus};

use super::account::{self, parse_account_id, Refill};
use super::i18n::text;
use super::page::WebError;
use super::session::Manager;
use crate::service::counter as service;

/// The largest single counter payment.
const MAX_FEN: i64 = 5_000_000;

#[derive(Deserialize)]
pub struct CounterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    confirmed: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    memo: String,
    #[serde(default)]
    method: String,
}

/// Whether a form's one-time token looks like one the pages hand out.
pub fn token_ok(token: &str) -> bool {
    (16..=64).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A money amount typed by a person: the API's format and a sane range; the error is a
/// catalogue key.
pub fn parse_amount(raw: &str) -> Result<Money, &'static str> {
    let raw = raw.trim();
    let amount = Money::parse_amount(raw).map_err(|_| "err_amount")?;
    let fen = amount.to_fen().map_err(|_| "err_amount_range")?;
    if !(1..=MAX_FEN).contains(&fen) {
        return Err("err_amount_range");
    }
    Ok(amount)
}

#[post("/accounts/{id}/counter")]
pub async fn submit(
    m: Manager,
    path: web::Path<String>,
    form: web::Form<CounterForm>,
) -> Result<HttpResponse, WebError> {
    m.web.check_csrf(&form.csrf)?;
    if !m.session.may_act() {
        return Err(WebError::Forbidden);
    }
    let id = parse_account_id(&path)?;
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let acct = store::account::get(&state.db, org, id).await?;
    let mut errors = BTreeMap::new();
    let amount = match parse_amount(&form.amount) {
        Ok(a) => Some(a),
        Err(key) => {
            errors.insert("amount", key);
            None
        }
    };
    if acct.status != AccountStatus::Open {
        errors.insert("amount", "err_account_closed");
    }
    let method = parse_method(&form.method);
    if method.is_none() {
        errors.insert("method", "err_method");
    }
    let (Some(amount), true, true) = (amount, errors.is_empty(), token_ok(&form.token)) else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return account::render(
            &m,
            id,
            status,
            None,
            refill(&form),
            minijinja::Value::from_serialize(&errors),
        )
        .await;
    };
    if form.confirmed != "1" {
        let question = text(m.web.lang, "confirm_counter")
            .replace("{account}", &acct.account_no)
            .replace("{amount}", &amount.to_string());
        let method = method.unwrap_or(PaymentMethod::Cash);
        return m.web.render(
            "confirm.html",
            context! {
                body_class => "dashboard",
                question => question,
                action => format!("/accounts/{id}/counter"),
                cancel => format!("/accounts/{id}"),
                fields => context! {
                    csrf => &m.web.csrf,
                    token => &form.token,
                    amount => amount.to_string(),
                    memo => form.memo.trim(),
                    method => method.as_str(),
                },
            },
        );
    }
    let note =
        Some(form.memo.trim().chars().take(200).collect::<String>()).filter(|s| !s.is_empty());
    let outcome = service::take_payment(
        &state.db,
        org,
        m.session.user_id,
        id,
        amount,
        method.unwrap_or(PaymentMethod::Cash),
        note,
        &format!("web:{}", form.token),
    )
    .await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) if e.code() == "account_closed" => {
            let errors = BTreeMap::from([("amount", "err_account_closed")]);
            return account::render(
                &m,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                refill(&form),
                minijinja::Value::from_serialize(&errors),
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    let dup = if outcome.duplicate { "&dup=1" } else { "" };
    Ok(m.web.redirect(&format!(
        "/accounts/{id}?receipt={}{dup}",
        outcome.receipt.id
    )))
}

fn refill(form: &CounterForm) -> Refill {
    Refill {
        amount: form.amount.trim().to_owned(),
        memo: form.memo.trim().to_owned(),
        method: form.method.clone(),
        ..Refill::default()
    }
}

/// A payment method from the form (`cash` when none is chosen, as at most counters).
pub fn parse_method(raw: &str) -> Option<PaymentMethod> {
    match raw {
        "" | "cash" => Some(PaymentMethod::Cash),
        "card" => Some(PaymentMethod::Card),
        "transfer" => Some(PaymentMethod::Transfer),
        _ => None,
    }
}

/// The message after a payment: what was received and the balance now; and the receipt to
/// print.
pub async fn flash(
    m: &Manager,
    account: AccountId,
    receipt: uuid::Uuid,
) -> Result<Option<(String, Option<String>)>, WebError> {
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let r = match store::counter::get(&state.db, org, receipt).await {
        Ok(r) if r.account_id == account => r,
        Ok(_) | Err(store::StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let balance = store::ledger::balance_of(&state.db, org, account).await?;
    let duplicate = m.web.req.query_string().contains("dup=1");
    let key = match (duplicate, r.kind.as_str()) {
        (true, _) => "counter_duplicate",
        (false, "reversal") => "reversal_done",
        (false, "adjustment") => "adjustment_done",
        _ => "counter_done",
    };
    // A reversal says how much it took back; an adjustment keeps its sign (credit or debit).
    let amount = if r.kind == "reversal" {
        Money::from_fen(r.amount_fen.abs())
    } else {
        r.amount()
    };
    let message = text(m.web.lang, key)
        .replace("{amount}", &amount.to_string())
        .replace("{no}", &r.receipt_no.to_string())
        .replace("{balance}", &balance.to_string());
    Ok(Some((message, Some(r.id.to_string()))))
}
