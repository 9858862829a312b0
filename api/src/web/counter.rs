//! Counter payment (柜台收费) from the account page: a cashier takes cash or a card payment at
//! the property office and credits the account.
//!
//! Rules it keeps: the amount is validated like the API's (`^\d+(\.\d{1,2})?$`, ¥0.01 to
//! ¥50,000) and errors are shown next to the field; nothing is posted before the cashier
//! confirms (a dialog with JavaScript, a confirmation page without); the form's one-time token
//! is the ledger idempotency key, so a double submit credits once; the ledger entry, the
//! `account.balance_changed` outbox row and the audit record are one transaction.
//!
//! The API engineer's counter-desk service will own this posting once it exists; this module
//! then only validates and calls it.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpResponse};
use domain::Money;
use minijinja::context;
use sea_orm::TransactionTrait as _;
use serde::Deserialize;
use store::ledger::{NewEntry, Posting};
use store::{AccountId, AccountStatus, LedgerEntryId, LedgerKind, OrgId, StoreError, UserId};

use super::account::{self, parse_account_id};
use super::i18n::text;
use super::page::WebError;
use super::session::Manager;

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
    let token_ok = (16..=64).contains(&form.token.len())
        && form
            .token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let (Some(amount), true, true) = (amount, errors.is_empty(), token_ok) else {
        let refill =
            context! { amount => form.amount.trim(), memo => form.memo.trim(), reason => "" };
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return account::render(
            &m,
            id,
            status,
            None,
            refill,
            minijinja::Value::from_serialize(&errors),
        )
        .await;
    };
    if form.confirmed != "1" {
        let question = text(m.web.lang, "confirm_counter")
            .replace("{account}", &acct.account_no)
            .replace("{amount}", &amount.to_string());
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
                },
            },
        );
    }
    let memo =
        Some(form.memo.trim().chars().take(200).collect::<String>()).filter(|s| !s.is_empty());
    let posting = post_counter_payment(
        &state.db,
        org,
        id,
        amount,
        &form.token,
        memo,
        m.session.user_id,
    )
    .await?;
    let dup = if posting.duplicate { "&dup=1" } else { "" };
    Ok(m.web
        .redirect(&format!("/accounts/{id}?paid={}{dup}", posting.entry.id)))
}

/// Credits a counter payment: ledger entry, outbox row and audit record in one transaction.
pub async fn post_counter_payment(
    db: &sea_orm::DatabaseConnection,
    org: OrgId,
    account: AccountId,
    amount: Money,
    token: &str,
    memo: Option<String>,
    cashier: UserId,
) -> Result<Posting, StoreError> {
    let txn = db.begin().await?;
    let posting = store::ledger::post_in_txn(
        &txn,
        org,
        NewEntry {
            account_id: account,
            kind: LedgerKind::Topup,
            amount,
            idempotency_key: format!("counter:{token}"),
            corrects: None,
            memo,
            created_by: Some(cashier),
        },
    )
    .await?;
    if !posting.duplicate {
        store::outbox::enqueue(
            &txn,
            Some(org),
            store::outbox::kind::BALANCE_CHANGED,
            serde_json::json!({ "account_id": account }),
        )
        .await?;
        store::audit::record(
            &txn,
            Some(org),
            Some(cashier),
            "account.counter_payment",
            "account",
            &account.to_string(),
            serde_json::json!({
                "amount": amount.to_string(),
                "entry_id": posting.entry.id.0,
            }),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(posting)
}

/// The message after a payment: what was received and the balance now.
pub async fn flash(
    m: &Manager,
    account: AccountId,
    entry: LedgerEntryId,
) -> Result<Option<String>, WebError> {
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let found = store::entity::ledger_entry::Entity::find_by_id(entry)
        .filter(store::entity::ledger_entry::Column::OrganizationId.eq(org))
        .filter(store::entity::ledger_entry::Column::AccountId.eq(account))
        .one(&state.db)
        .await?;
    let Some(e) = found else {
        return Ok(None);
    };
    let balance = store::ledger::balance_of(&state.db, org, account).await?;
    let duplicate = m.web.req.query_string().contains("dup=1");
    let key = if duplicate {
        "counter_duplicate"
    } else {
        "counter_done"
    };
    Ok(Some(
        text(m.web.lang, key)
            .replace("{amount}", &e.amount().to_string())
            .replace("{balance}", &balance.to_string()),
    ))
}

use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
