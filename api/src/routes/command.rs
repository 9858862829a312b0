//! Meter commands: `POST /api/v1/meters/{id}/commands` queues one (`202 {id, seq, state}`) with
//! the meter's next seq and a `meter.command_queued` outbox row in the same transaction;
//! `GET` lists a meter's commands with their states.
//!
//! The rules (invariant 4: no trip while protected, a close below the trip threshold only with
//! `"override": true` and an `until` time, what charge control is told) are kept by
//! [`crate::service::power`], which the account page's buttons call too. Each is audited.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::command::{Command, CommandAction};
use store::{Account, MeterId};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse};
use crate::service::power;
use crate::startup::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommand {
    /// `trip`, `close`, `alarm_on`, `alarm_off`, `read_now` or `sync_time`.
    pub action: String,
    /// Close an account at or below its trip threshold anyway (needs `until`).
    #[serde(default, rename = "override")]
    pub override_: bool,
    /// Until when a forced close holds (at most 31 days ahead).
    pub until: Option<DateTime<Utc>>,
}

/// A command and where it is.
#[derive(Serialize, ToSchema)]
pub struct CommandView {
    pub id: Uuid,
    pub meter_id: Uuid,
    pub seq: i64,
    pub action: String,
    /// `queued`, `sent`, `acked`, `succeeded`, `failed`, `expired`.
    pub state: String,
    pub attempts: i32,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub acked_at: Option<DateTime<Utc>>,
    /// Relay read back with the ack.
    pub relay: Option<String>,
    pub detail: Option<String>,
    pub requested_by: Option<Uuid>,
}

impl From<Command> for CommandView {
    fn from(c: Command) -> Self {
        CommandView {
            id: c.id.into(),
            meter_id: c.meter_id.into(),
            seq: c.seq,
            action: c.action,
            state: c.state.as_str().to_owned(),
            attempts: c.attempts,
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            acked_at: c.acked_at,
            relay: c.relay,
            detail: c.detail,
            requested_by: c.requested_by.map(Into::into),
        }
    }
}

fn meter_not_found(e: store::StoreError) -> ApiError {
    ApiError::from_store(e, "meter_not_found", "meter")
}

/// The open account of the meter's unit, if any.
async fn account_of(
    state: &AppState,
    scope: store::Scope,
    meter: MeterId,
) -> Result<Option<Account>, ApiError> {
    let m = store::meter::get(&state.db, scope, meter)
        .await
        .map_err(meter_not_found)?;
    let Some(unit) = m.unit_id else {
        return Ok(None);
    };
    let filter = store::account::AccountFilter {
        unit_id: Some(unit),
        status: Some(store::AccountStatus::Open),
        ..Default::default()
    };
    let page =
        store::account::list_filtered(&state.db, scope, &filter, store::Page::new(1, 1)).await?;
    Ok(page.items.into_iter().next())
}

/// Send a command to a meter.
#[utoipa::path(post, path = "/api/v1/meters/{id}/commands", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = NewCommand,
    responses((status = 202, body = CommandView),
        (status = 400, description = "`invalid_action`, `invalid_until`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`meter_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`override_required`, `account_protected`", body = Problem, content_type = "application/problem+json")))]
#[post("/meters/{id}/commands")]
pub async fn send(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<NewCommand>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::DEVICES)?;
    let body = body.into_inner();
    let action: CommandAction = body
        .action
        .parse()
        .ok()
        .filter(|a| *a != CommandAction::SetParams)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_action",
                "action is trip, close, alarm_on, alarm_off, read_now or sync_time",
            )
        })?;
    let meter = MeterId::from(*id);
    let account = account_of(&state, ctx.scope(), meter).await?;
    let force = power::Override {
        requested: body.override_,
        until: body.until,
    };
    let command = power::send(
        &state.db,
        &ctx,
        account.as_ref(),
        &[meter],
        action,
        force,
        Utc::now(),
    )
    .await?
    .pop()
    .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("one meter, one command")))?;
    Ok(HttpResponse::Accepted().json(CommandView::from(command)))
}

/// A meter's commands, newest first.
#[utoipa::path(get, path = "/api/v1/meters/{id}/commands", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path), ListQuery),
    responses((status = 200, body = ListResponse<CommandView>),
        (status = 404, description = "`meter_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/meters/{id}/commands")]
pub async fn history(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    page: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let page = page.page()?;
    let meter = MeterId::from(*id);
    store::meter::get(&state.db, ctx.scope(), meter)
        .await
        .map_err(meter_not_found)?;
    let paged = store::command::list_for_meter(&state.db, ctx.scope(), meter, page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::from_paged(paged, page, CommandView::from)))
}
