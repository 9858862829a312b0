//! Power buttons on the account page (`POST /accounts/{id}/control`): trip, close, protect
//! (保电) and lift protection.
//!
//! Rules it keeps (invariant 4, as `POST /api/v1/meters/{id}/commands` keeps them): nothing
//! happens before the manager confirms; viewers may not; a protected account is not tripped;
//! an account at or below its trip threshold is not closed from here (the API's override with
//! an end time is the way for that); protection needs a reason. A trip or close queues one
//! command per meter of the unit with `store::command::queue_command` (command and outbox row)
//! and tells charge control in the same transaction, so its next reading does not undo it;
//! every change is audited.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpResponse};
use chrono::{Duration, Utc};
use minijinja::context;
use sea_orm::TransactionTrait as _;
use serde::Deserialize;
use store::command::CommandAction;
use store::{Account, AccountStatus, OrgId, UserId};

use super::account::{self, parse_account_id};
use super::i18n::text;
use super::page::WebError;
use super::session::Manager;
use super::{door, query};

/// How long a queued command may wait for its gateway before it expires (as the API's).
const COMMAND_TTL_MINUTES: i64 = 15;

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

/// Why a control is refused for this account, as a catalogue key.
async fn refusal(
    db: &sea_orm::DatabaseConnection,
    a: &Account,
    control: Control,
    reason: &str,
) -> Result<Option<&'static str>, WebError> {
    Ok(match control {
        _ if a.status != AccountStatus::Open => Some("err_account_closed"),
        Control::Trip if a.protected => Some("err_trip_protected"),
        Control::Close if a.balance_fen <= door::trip_threshold_fen(db, a).await? => {
            Some("err_close_below_threshold")
        }
        Control::Protect if reason.is_empty() => Some("err_reason_required"),
        _ => None,
    })
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
            context! { amount => "", memo => "", reason => reason },
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
    apply(&state.db, org, &acct, control, reason, m.session.user_id).await?;
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

/// Carries out a confirmed control in one transaction.
pub async fn apply(
    db: &sea_orm::DatabaseConnection,
    org: OrgId,
    a: &Account,
    control: Control,
    reason: String,
    actor: UserId,
) -> Result<(), WebError> {
    let meters = query::meters_of_unit(db, org, a.unit_id).await?;
    let txn = db.begin().await?;
    let (action, charge_control) = match control {
        Control::Protect | Control::Unprotect => {
            let protect = control == Control::Protect;
            let reason = Some(reason).filter(|r| !r.is_empty());
            store::account::set_protection(&txn, org, a.id, protect, reason, Some(actor)).await?;
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
        // A trip is a forced trip for charge control, or the next reading restores power; a
        // close above the threshold ends a forced trip and lets charge control settle.
        Control::Trip => (CommandAction::Trip, "force_trip"),
        Control::Close => (CommandAction::Close, "release"),
    };
    let expires_at = Utc::now() + Duration::minutes(COMMAND_TTL_MINUTES);
    let mut queued = Vec::new();
    for meter in &meters {
        let c = store::command::queue_command(&txn, org, meter.id, action, expires_at, Some(actor))
            .await?;
        queued.push(serde_json::json!({ "command_id": c.id, "meter_id": meter.id, "seq": c.seq }));
    }
    store::outbox::enqueue(
        &txn,
        Some(org),
        store::outbox::kind::ACCOUNT_CONTROL_CHANGED,
        serde_json::json!({ "account_id": a.id, "action": charge_control }),
    )
    .await?;
    store::audit::record(
        &txn,
        Some(org),
        Some(actor),
        &format!("account.{}", control.as_str()),
        "account",
        &a.id.to_string(),
        serde_json::json!({ "commands": queued }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The message after a control, from the `done` query parameter.
pub fn flash(lang: super::i18n::Lang, done: &str) -> Option<String> {
    Control::parse(done).map(|c| text(lang, &format!("done_{}", c.as_str())).to_owned())
}
