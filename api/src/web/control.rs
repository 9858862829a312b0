//! Power buttons on the account page (`POST /accounts/{id}/control`): trip, close, protect
//! (保电) and lift protection.
//!
//! Rules it keeps: nothing happens before the manager confirms; viewers may not; protection
//! needs a reason. Trip and close go through [`crate::service::power`], the service the REST
//! API's `POST /api/v1/meters/{id}/commands` calls, so invariant 4 is kept in one place: a
//! protected account is not tripped; an account at or below its trip threshold is not closed
//! from here (the API's override with an end time is the way for that); one command per meter
//! of the unit, and charge control is told in the same transaction; every change is audited.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpResponse};
use chrono::Utc;
use minijinja::context;
use sea_orm::TransactionTrait as _;
use serde::Deserialize;
use store::command::CommandAction;
use store::{Account, AccountStatus};

use super::account::{self, parse_account_id};
use super::i18n::text;
use super::page::WebError;
use super::query;
use super::session::Manager;
use crate::auth::OrgContext;
use crate::error::ApiError;
use crate::service::power;

#[derive(Deserialize)]
pub struct ControlForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirmed: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

/// What a button asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Trip,
    Close,
    Protect,
    Unprotect,
}

impl Control {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "trip" => Some(Self::Trip),
            "close" => Some(Self::Close),
            "protect" => Some(Self::Protect),
            "unprotect" => Some(Self::Unprotect),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trip => "trip",
            Self::Close => "close",
            Self::Protect => "protect",
            Self::Unprotect => "unprotect",
        }
    }
}

/// Why a control is refused for this account, as a catalogue key. Trip and close are checked
/// by the same service function the REST API's commands go through.
async fn refusal(
    db: &sea_orm::DatabaseConnection,
    a: &Account,
    control: Control,
    reason: &str,
) -> Result<Option<&'static str>, WebError> {
    if a.status != AccountStatus::Open {
        return Ok(Some("err_account_closed"));
    }
    let action = match control {
        Control::Protect if reason.is_empty() => return Ok(Some("err_reason_required")),
        Control::Protect | Control::Unprotect => return Ok(None),
        Control::Trip => CommandAction::Trip,
        Control::Close => CommandAction::Close,
    };
    match power::charge_control_for(db, Some(a), action, power::Override::default(), Utc::now())
        .await
    {
        Ok(_) => Ok(None),
        Err(e) => refusal_key(&e).map(Some).ok_or_else(|| e.into()),
    }
}

/// The catalogue key of a refusal of the power service.
fn refusal_key(e: &ApiError) -> Option<&'static str> {
    match e.code() {
        "account_protected" => Some("err_trip_protected"),
        "override_required" => Some("err_close_below_threshold"),
        _ => None,
    }
}

#[post("/accounts/{id}/control")]
pub async fn submit(
    m: Manager,
    path: web::Path<String>,
    form: web::Form<ControlForm>,
) -> Result<HttpResponse, WebError> {
    m.web.check_csrf(&form.csrf)?;
    if !m.session.may_act() {
        return Err(WebError::Forbidden);
    }
    let id = parse_account_id(&path)?;
    let control = Control::parse(&form.action).ok_or(WebError::NotFound)?;
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let acct = store::account::get(&state.db, org, id).await?;
    let reason: String = form.reason.trim().chars().take(200).collect();
    if let Some(key) = refusal(&state.db, &acct, control, &reason).await? {
        let errors = BTreeMap::from([(control_field(control), key)]);
        return account::render(
            &m,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            account::Refill {
                reason,
                ..account::Refill::default()
            },
            minijinja::Value::from_serialize(&errors),
        )
        .await;
    }
    if form.confirmed != "1" {
        let question = text(m.web.lang, &format!("confirm_{}", control.as_str()))
            .replace("{account}", &acct.account_no);
        return m.web.render(
            "confirm.html",
            context! {
                body_class => "dashboard",
                question => question,
                action => format!("/accounts/{id}/control"),
                cancel => format!("/accounts/{id}"),
                fields => context! {
                    csrf => &m.web.csrf,
                    action => control.as_str(),
                    reason => reason,
                },
            },
        );
    }
    apply(&state.db, &m.session.ctx(), &acct, control, reason).await?;
    Ok(m.web
        .redirect(&format!("/accounts/{id}?done={}", control.as_str())))
}

/// Where a refusal is shown: next to the reason field for protection, else by the buttons.
fn control_field(control: Control) -> &'static str {
    if control == Control::Protect {
        "reason"
    } else {
        "control"
    }
}

/// Carries out a confirmed control: protection here, trip and close through
/// [`power::send`] (one command per meter of the unit, one transaction).
pub async fn apply(
    db: &sea_orm::DatabaseConnection,
    ctx: &OrgContext,
    a: &Account,
    control: Control,
    reason: String,
) -> Result<(), WebError> {
    let org = ctx.org_id;
    let action = match control {
        Control::Protect | Control::Unprotect => {
            let protect = control == Control::Protect;
            let reason = Some(reason).filter(|r| !r.is_empty());
            let txn = db.begin().await?;
            store::account::set_protection(&txn, org, a.id, protect, reason, Some(ctx.user_id))
                .await?;
            store::outbox::enqueue(
                &txn,
                Some(org),
                store::outbox::kind::ACCOUNT_CONTROL_CHANGED,
                serde_json::json!({ "account_id": a.id }),
            )
            .await?;
            txn.commit().await?;
            return Ok(());
        }
        Control::Trip => CommandAction::Trip,
        Control::Close => CommandAction::Close,
    };
    let meters: Vec<_> = query::meters_of_unit(db, org, a.unit_id)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    power::send(
        db,
        ctx,
        Some(a),
        &meters,
        action,
        power::Override::default(),
        Utc::now(),
    )
    .await?;
    Ok(())
}

/// The message after a control, from the `done` query parameter.
pub fn flash(lang: super::i18n::Lang, done: &str) -> Option<String> {
    Control::parse(done).map(|c| text(lang, &format!("done_{}", c.as_str())).to_owned())
}
