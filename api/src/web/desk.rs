//! The counter desk (营业厅): the desk page (`/desk`: find an account by its number, today's
//! receipts), reversal (冲正) and adjustment from the account page, the printable receipt
//! (`/receipts/{id}`) and the cashier's day-end report (日结, `/desk/day-end`, with its CSV).
//!
//! Rules it keeps: every posting goes through the REST API's counter service
//! ([`crate::service::counter`]), so the reversal policy (same business day, the cashier who
//! took it or an org admin, once, not below the trip threshold without an admin's override)
//! and the receipts are the same both ways; a reason is required for reversals and
//! adjustments; nothing is posted before the manager confirms; adjustments are org admins'
//! only; the form's one-time token is the idempotency key.

use std::collections::{BTreeMap, HashMap, HashSet};

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use chrono::{NaiveDate, Utc};
use domain::Money;
use minijinja::{context, Value};
use serde::Deserialize;
use store::{AccountId, OrgId, UserId};

use super::account::{self, local_time, parse_account_id, Refill};
use super::counter::{parse_amount, token_ok};
use super::i18n::text;
use super::page::WebError;
use super::session::Manager;
use crate::error::ApiError;
use crate::service::counter as service;

/// How many receipts the account page lists.
const ACCOUNT_RECEIPTS: u64 = 20;

fn reason_of(raw: &str) -> String {
    raw.trim().chars().take(200).collect()
}

/// The account page's receipts, newest first, with whether each can still be reversed today.
pub async fn receipts_of(
    db: &sea_orm::DatabaseConnection,
    org: OrgId,
    account: AccountId,
    today: NaiveDate,
) -> Result<Vec<Value>, WebError> {
    let items = store::counter::list(
        db,
        org,
        Some(account),
        store::Page::new(1, ACCOUNT_RECEIPTS),
    )
    .await?
    .items;
    let reversed: HashSet<uuid::Uuid> =
        items.iter().filter_map(|r| r.reverses_receipt_id).collect();
    Ok(items
        .into_iter()
        .map(|r| {
            let day = r
                .created_at
                .with_timezone(&service::business_tz())
                .date_naive();
            let is_reversed = reversed.contains(&r.id);
            context! {
                id => r.id.to_string(),
                no => r.receipt_no,
                kind => r.kind.clone(),
                method => r.method.clone().unwrap_or_default(),
                amount => r.amount().to_string(),
                negative => r.amount_fen < 0,
                at => local_time(r.created_at),
                note => r.note.clone().unwrap_or_default(),
                reversed => is_reversed,
                reversible => r.kind == "payment" && !is_reversed && day == today,
            }
        })
        .collect())
}

#[derive(Deserialize)]
pub struct ReversalForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirmed: String,
    #[serde(default)]
    receipt: String,
    #[serde(default)]
    reason: String,
    #[serde(default, rename = "override")]
    override_: String,
}

/// Where a refusal of the counter service is shown on the account page, and in which words.
fn refusal(e: &ApiError) -> Option<(&'static str, &'static str)> {
    Some(match e.code() {
        "below_trip_threshold" => ("rev_receipt", "err_reversal_below_threshold"),
        "reversal_window_closed" => ("rev_receipt", "err_reversal_window"),
        "not_your_receipt" => ("rev_receipt", "err_not_your_receipt"),
        "not_reversible" => ("rev_receipt", "err_not_reversible"),
        "account_closed" => ("adj_amount", "err_account_closed"),
        _ => return None,
    })
}

async fn refused(
    m: &Manager,
    id: AccountId,
    refill: Refill,
    errors: &BTreeMap<&str, &str>,
) -> Result<HttpResponse, WebError> {
    account::render(
        m,
        id,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        refill,
        Value::from_serialize(errors),
    )
    .await
}

/// Reverses one of the account's payments (冲正), after confirmation.
#[post("/accounts/{id}/reversal")]
pub async fn reverse(
    m: Manager,
    path: web::Path<String>,
    form: web::Form<ReversalForm>,
) -> Result<HttpResponse, WebError> {
    m.web.check_csrf(&form.csrf)?;
    if !m.session.may_act() {
        return Err(WebError::Forbidden);
    }
    let id = parse_account_id(&path)?;
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let acct = store::account::get(&state.db, org, id).await?;
    let reason = reason_of(&form.reason);
    let override_ = form.override_ == "1";
    let refill = || Refill {
        rev_receipt: form.receipt.clone(),
        rev_reason: reason.clone(),
        ..Refill::default()
    };
    let mut errors = BTreeMap::new();
    let receipt = match form.receipt.parse::<uuid::Uuid>() {
        Ok(r) => match store::counter::get(&state.db, org, r).await {
            Ok(found) if found.account_id == id => Some(found),
            Ok(_) | Err(store::StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        Err(_) => None,
    };
    if receipt.is_none() {
        errors.insert("rev_receipt", "err_receipt_choose");
    }
    if reason.is_empty() {
        errors.insert("rev_reason", "err_reason_needed");
    }
    if override_ && !m.session.is_admin() {
        return Err(WebError::Forbidden);
    }
    let (Some(receipt), true) = (receipt, errors.is_empty()) else {
        return refused(&m, id, refill(), &errors).await;
    };
    if form.confirmed != "1" {
        let question = text(m.web.lang, "confirm_reversal")
            .replace("{no}", &receipt.receipt_no.to_string())
            .replace("{amount}", &receipt.amount().to_string())
            .replace("{account}", &acct.account_no);
        return m.web.render(
            "confirm.html",
            context! {
                body_class => "dashboard",
                question => question,
                action => format!("/accounts/{id}/reversal"),
                cancel => format!("/accounts/{id}"),
                fields => context! {
                    csrf => &m.web.csrf,
                    receipt => receipt.id.to_string(),
                    reason => &reason,
                    override => if override_ { "1" } else { "0" },
                },
            },
        );
    }
    let outcome = service::reverse(
        &state.db,
        &m.session.ctx(),
        receipt.id,
        reason.clone(),
        override_,
        Utc::now(),
    )
    .await;
    match outcome {
        Ok(o) => {
            let dup = if o.duplicate { "&dup=1" } else { "" };
            Ok(m.web
                .redirect(&format!("/accounts/{id}?receipt={}{dup}", o.receipt.id)))
        }
        Err(e) => match refusal(&e) {
            Some((field, key)) => {
                let errors = BTreeMap::from([(field, key)]);
                refused(&m, id, refill(), &errors).await
            }
            None => Err(e.into()),
        },
    }
}

#[derive(Deserialize)]
pub struct AdjustmentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirmed: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    direction: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
}

/// An org admin's adjustment (调账) of the balance, with a reason, after confirmation.
#[post("/accounts/{id}/adjustment")]
pub async fn adjust(
    m: Manager,
    path: web::Path<String>,
    form: web::Form<AdjustmentForm>,
) -> Result<HttpResponse, WebError> {
    m.web.check_csrf(&form.csrf)?;
    if !m.session.is_admin() {
        return Err(WebError::Forbidden);
    }
    let id = parse_account_id(&path)?;
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let acct = store::account::get(&state.db, org, id).await?;
    let reason = reason_of(&form.reason);
    let refill = || Refill {
        adj_amount: form.amount.trim().to_owned(),
        adj_direction: form.direction.clone(),
        adj_reason: reason.clone(),
        ..Refill::default()
    };
    let mut errors = BTreeMap::new();
    let amount = parse_amount(&form.amount)
        .map_err(|key| errors.insert("adj_amount", key))
        .ok();
    let credit = match form.direction.as_str() {
        "credit" => Some(true),
        "debit" => Some(false),
        _ => {
            errors.insert("adj_direction", "err_direction");
            None
        }
    };
    if reason.is_empty() {
        errors.insert("adj_reason", "err_reason_needed");
    }
    let (Some(amount), Some(credit), true, true) =
        (amount, credit, errors.is_empty(), token_ok(&form.token))
    else {
        return refused(&m, id, refill(), &errors).await;
    };
    let signed: Money = if credit { amount } else { -amount };
    if form.confirmed != "1" {
        let key = if credit {
            "confirm_adjust_credit"
        } else {
            "confirm_adjust_debit"
        };
        let question = text(m.web.lang, key)
            .replace("{amount}", &amount.to_string())
            .replace("{account}", &acct.account_no);
        return m.web.render(
            "confirm.html",
            context! {
                body_class => "dashboard",
                question => question,
                action => format!("/accounts/{id}/adjustment"),
                cancel => format!("/accounts/{id}"),
                fields => context! {
                    csrf => &m.web.csrf,
                    token => &form.token,
                    direction => &form.direction,
                    amount => amount.to_string(),
                    reason => &reason,
                },
            },
        );
    }
    let key = format!("web-adjust:{}", form.token);
    match service::adjust(
        &state.db,
        &m.session.ctx(),
        id,
        signed,
        reason.clone(),
        &key,
    )
    .await
    {
        Ok(o) => {
            let dup = if o.duplicate { "&dup=1" } else { "" };
            Ok(m.web
                .redirect(&format!("/accounts/{id}?receipt={}{dup}", o.receipt.id)))
        }
        Err(e) => match refusal(&e) {
            Some((field, key)) => {
                let errors = BTreeMap::from([(field, key)]);
                refused(&m, id, refill(), &errors).await
            }
            None => Err(e.into()),
        },
    }
}

/// Names of the cashiers (users) by id, for reports.
async fn cashier_names(
    db: &sea_orm::DatabaseConnection,
    ids: impl IntoIterator<Item = UserId>,
) -> Result<HashMap<UserId, String>, WebError> {
    let mut names = HashMap::new();
    for id in ids.into_iter().collect::<HashSet<_>>() {
        if let Ok(u) = store::user::get_user(db, id).await {
            let name = if u.name.trim().is_empty() {
                u.email
            } else {
                format!("{} <{}>", u.name, u.email)
            };
            names.insert(id, name);
        }
    }
    Ok(names)
}

/// Receipt rows for a table: number, time, kind, method, account, amount, cashier.
async fn receipt_rows(
    db: &sea_orm::DatabaseConnection,
    org: OrgId,
    receipts: &[store::counter::Receipt],
) -> Result<Vec<Value>, WebError> {
    let names = cashier_names(db, receipts.iter().filter_map(|r| r.cashier_id)).await?;
    let accounts: HashSet<AccountId> = receipts.iter().map(|r| r.account_id).collect();
    let mut numbers = HashMap::new();
    for a in accounts {
        if let Ok(acct) = store::account::get(db, org, a).await {
            numbers.insert(a, acct.account_no);
        }
    }
    Ok(receipts
        .iter()
        .map(|r| {
            context! {
                id => r.id.to_string(),
                no => r.receipt_no,
                at => local_time(r.created_at),
                kind => r.kind.clone(),
                method => r.method.clone().unwrap_or_default(),
                account_id => r.account_id.to_string(),
                account_no => numbers.get(&r.account_id).cloned().unwrap_or_default(),
                amount => r.amount().to_string(),
                negative => r.amount_fen < 0,
                cashier => r.cashier_id.and_then(|c| names.get(&c).cloned()).unwrap_or_default(),
                note => r.note.clone().unwrap_or_default(),
            }
        })
        .collect())
}

fn today() -> NaiveDate {
    Utc::now()
        .with_timezone(&service::business_tz())
        .date_naive()
}

#[derive(Deserialize)]
pub struct DeskQuery {
    no: Option<String>,
}

/// The desk: find an account by its number, today's receipts.
#[get("/desk")]
pub async fn page(m: Manager, q: web::Query<DeskQuery>) -> Result<HttpResponse, WebError> {
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let no = q.no.as_deref().map(str::trim).unwrap_or_default();
    let mut errors = BTreeMap::new();
    if q.no.is_some() {
        if no.is_empty() {
            errors.insert("no", "err_required");
        } else {
            let filter = store::account::AccountFilter {
                account_no: Some(no.to_owned()),
                ..Default::default()
            };
            let found =
                store::account::list_filtered(&state.db, org, &filter, store::Page::new(1, 1))
                    .await?;
            match found.items.first() {
                Some(a) => return Ok(m.web.redirect(&format!("/accounts/{}#counter-h", a.id))),
                None => {
                    errors.insert("no", "err_account_no");
                }
            }
        }
    }
    let date = today();
    let report = service::day_end(&state.db, org, date).await?;
    let rows = receipt_rows(&state.db, org, &report.receipts).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    m.web.render_status(
        status,
        "desk.html",
        context! {
            no => no,
            errors => errors,
            date => date.to_string(),
            receipts => rows,
            net => Money::from_fen(report.net_fen).to_string(),
        },
    )
}

#[derive(Deserialize)]
pub struct DayQuery {
    date: Option<String>,
}

/// The day-end report (日结) of a business day, printable, with its CSV.
#[get("/desk/day-end")]
pub async fn day_end(m: Manager, q: web::Query<DayQuery>) -> Result<HttpResponse, WebError> {
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let raw = q.date.as_deref().map(str::trim).unwrap_or_default();
    let parsed = if raw.is_empty() {
        Some(today())
    } else {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
    };
    let Some(date) = parsed else {
        let errors = BTreeMap::from([("date", "err_date")]);
        return m.web.render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "day_end.html",
            context! { date => raw, errors => errors, report => () },
        );
    };
    let report = service::day_end(&state.db, org, date).await?;
    let names = cashier_names(
        &state.db,
        report
            .by_cashier
            .keys()
            .filter_map(|k| k.parse::<uuid::Uuid>().ok().map(UserId::from)),
    )
    .await?;
    let tally = |s: service::Sum| {
        context! { count => s.count, total => Money::from_fen(s.fen).to_string() }
    };
    let by_method: Vec<Value> = report
        .by_method
        .iter()
        .map(|(k, s)| context! { method => k, count => s.count, total => Money::from_fen(s.fen).to_string() })
        .collect();
    let by_cashier: Vec<Value> = report
        .by_cashier
        .iter()
        .map(|(k, s)| {
            let name = k
                .parse::<uuid::Uuid>()
                .ok()
                .and_then(|id| names.get(&UserId::from(id)).cloned())
                .unwrap_or_else(|| k.clone());
            context! { cashier => name, count => s.count, total => Money::from_fen(s.fen).to_string() }
        })
        .collect();
    let rows = receipt_rows(&state.db, org, &report.receipts).await?;
    m.web.render(
        "day_end.html",
        context! {
            date => date.to_string(),
            errors => context! {},
            report => context! {
                by_method => by_method,
                by_cashier => by_cashier,
                payments => tally(report.payments),
                reversals => tally(report.reversals),
                adjustments => tally(report.adjustments),
                net => Money::from_fen(report.net_fen).to_string(),
                receipts => rows,
            },
        },
    )
}

/// The day-end receipts as CSV: the REST export's document, for the signed-in manager.
#[get("/desk/day-end.csv")]
pub async fn day_end_csv(m: Manager, q: web::Query<DayQuery>) -> Result<HttpResponse, WebError> {
    let state = m.web.state()?.clone();
    if !crate::auth::context::roles::READ_MONEY.contains(&m.session.role) {
        return Err(WebError::Forbidden);
    }
    let raw = q.date.as_deref().map(str::trim).unwrap_or_default();
    let date = if raw.is_empty() {
        today()
    } else {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| WebError::NotFound)?
    };
    Ok(crate::routes::export::day_end_csv(&state.db, m.session.org_id, date).await?)
}

/// One receipt, printable (收据).
#[get("/receipts/{id}")]
pub async fn receipt_page(m: Manager, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let id = path.parse::<uuid::Uuid>().map_err(|_| WebError::NotFound)?;
    let r = store::counter::get(&state.db, org, id).await?;
    let rows = receipt_rows(&state.db, org, std::slice::from_ref(&r)).await?;
    let organization = store::organization::get_organization(&state.db, org).await?;
    let original = match r.reverses_receipt_id {
        Some(o) => Some(store::counter::get(&state.db, org, o).await?.receipt_no),
        None => None,
    };
    m.web.render(
        "receipt.html",
        context! {
            r => rows.into_iter().next(),
            organization => organization.name,
            balance_after => r.balance_after().to_string(),
            reverses => original,
        },
    )
}
