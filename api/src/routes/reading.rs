//! Meter readings and account usage for managers: `GET /api/v1/meters/{id}/readings`, readings
//! entered by hand when a meter cannot be read (`POST` the same path), and
//! `GET /api/v1/accounts/{id}/usage` (daily kWh and cost as charged).
//!
//! A manual reading is stored as an ordinary reading (marked `manual`, with who entered it and
//! why, audited) and announced with a `meter.readings_entered` outbox row: the worker rates it
//! on its next pass exactly like a reading that came over MQTT.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use sea_orm::TransactionTrait as _;
use serde::{Deserialize, Serialize};
use store::manual_reading::{Entered, NewManualReading, Purpose, SourcedReading};
use store::{AccountId, MeterId};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse};
use crate::routes::me::{kwh, usage_of, UsageQuery, UsageView};
use crate::startup::AppState;

/// How far ahead of the server's clock a reading's time may be (a technician's phone clock).
const CLOCK_SLACK_MINUTES: i64 = 5;

/// One stored reading.
#[derive(Serialize, ToSchema)]
pub struct ReadingView {
    pub ts: DateTime<Utc>,
    /// Total active energy register, kWh (before the CT ratio); `null` for a failed read.
    pub energy_kwh: Option<String>,
    /// `meter` (from the gateway) or `manual` (entered by hand).
    pub source: String,
    /// For manual readings: `manual`, `final` (replacement, closing) or `start` (new meter).
    pub purpose: Option<String>,
    pub entered_by: Option<Uuid>,
    pub note: Option<String>,
    pub relay: Option<String>,
    /// The meter's read error (`timeout`, ...), when it could not be read.
    pub error: Option<String>,
    pub received_at: DateTime<Utc>,
}

impl From<SourcedReading> for ReadingView {
    fn from(r: SourcedReading) -> Self {
        ReadingView {
            ts: r.reading.ts,
            energy_kwh: r.reading.energy_wh.map(kwh),
            source: if r.manual.is_some() {
                "manual"
            } else {
                "meter"
            }
            .to_owned(),
            purpose: r.manual.as_ref().map(|m| m.purpose.clone()),
            entered_by: r.manual.as_ref().and_then(|m| m.entered_by).map(Into::into),
            note: r.manual.and_then(|m| m.note),
            relay: r.reading.relay,
            error: r.reading.error,
            received_at: r.reading.received_at,
        }
    }
}

/// A reading taken by hand.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualReading {
    /// The total active energy register as shown on the meter, kWh (at most 3 decimals).
    pub reading_kwh: String,
    pub taken_at: DateTime<Utc>,
    pub note: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadingQuery {
    /// From this time (inclusive); default 30 days ago.
    pub from: Option<DateTime<Utc>>,
    /// Until this time (exclusive); default now.
    pub to: Option<DateTime<Utc>>,
}

/// A register value in kWh as Wh: a non-negative decimal string with at most 3 decimals.
pub fn parse_register(field: &str, s: &str) -> Result<i64, ApiError> {
    s.trim()
        .parse::<Decimal>()
        .ok()
        .filter(|d| !d.is_sign_negative() && d.scale() <= 3)
        .and_then(|d| i64::try_from(d * Decimal::from(1000)).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_reading",
                format!("{field} must be a decimal string of kWh with at most 3 decimals"),
            )
        })
}

pub fn meter_not_found(e: store::StoreError) -> ApiError {
    ApiError::from_store(e, "meter_not_found", "meter")
}

/// What [`store::manual_reading::enter`] refused, as the API says it.
pub fn refused(entered: &Entered) -> Option<ApiError> {
    match entered {
        Entered::Stored(_) => None,
        Entered::Duplicate => Some(ApiError::conflict(
            "duplicate_reading",
            "the meter already has a reading at this time",
        )),
        Entered::WentDown {
            neighbour_ts,
            neighbour_wh,
        } => Some(ApiError::unprocessable(
            "register_went_down",
            format!(
                "the register reads {} kWh at {}: a meter's register never goes down",
                kwh(*neighbour_wh),
                neighbour_ts.to_rfc3339()
            ),
        )),
    }
}

/// Enter a reading by hand (the meter cannot be read remotely). Rated like any other reading.
#[utoipa::path(post, path = "/api/v1/meters/{id}/readings", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ManualReading,
    responses((status = 201, body = ReadingView),
        (status = 400, description = "`invalid_reading`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`meter_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`duplicate_reading`, `meter_retired`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`register_went_down`, `reading_in_future`", body = Problem, content_type = "application/problem+json")))]
#[post("/meters/{id}/readings")]
pub async fn enter(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<ManualReading>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::DEVICES)?;
    let body = body.into_inner();
    let energy_wh = parse_register("reading_kwh", &body.reading_kwh)?;
    if body.taken_at > Utc::now() + Duration::minutes(CLOCK_SLACK_MINUTES) {
        return Err(ApiError::unprocessable(
            "reading_in_future",
            "taken_at is in the future",
        ));
    }
    let meter = MeterId::from(*id);
    let note = body
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    let new = NewManualReading {
        meter_id: meter,
        ts: body.taken_at,
        energy_wh,
        purpose: Purpose::Manual,
        entered_by: Some(ctx.user_id),
        note,
    };
    let stored = state
        .db
        .transaction::<_, Entered, ApiError>(|txn| {
            Box::pin(async move {
                store::meter::get(txn, ctx.scope(), meter)
                    .await
                    .map_err(meter_not_found)?;
                if store::meter_retirement::get(txn, ctx.org_id, meter)
                    .await?
                    .is_some()
                {
                    return Err(ApiError::conflict(
                        "meter_retired",
                        "the meter was replaced; enter readings on its successor",
                    ));
                }
                let entered = store::manual_reading::enter(txn, ctx.org_id, new.clone()).await?;
                if let Some(e) = refused(&entered) {
                    return Err(e);
                }
                store::outbox::enqueue(
                    txn,
                    Some(ctx.org_id),
                    store::outbox::kind::READINGS_ENTERED,
                    serde_json::json!({"meter_id": meter}),
                )
                .await?;
                ctx.audit(
                    txn,
                    "meter.manual_reading",
                    "meter",
                    meter,
                    serde_json::json!({"after": {"ts": new.ts, "energy_wh": new.energy_wh,
                    "note": new.note}}),
                )
                .await?;
                Ok(entered)
            })
        })
        .await?;
    let Entered::Stored(reading) = stored else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "manual reading not stored"
        )));
    };
    let page = store::manual_reading::list(
        &state.db,
        ctx.org_id,
        meter,
        reading.ts,
        reading.ts + Duration::milliseconds(1),
        store::Page::new(1, 1),
    )
    .await?;
    let view = page
        .items
        .into_iter()
        .next()
        .map(ReadingView::from)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("manual reading vanished")))?;
    Ok(HttpResponse::Created().json(view))
}

/// A meter's readings, newest first, each marked `meter` or `manual`.
#[utoipa::path(get, path = "/api/v1/meters/{id}/readings", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path), ListQuery, ReadingQuery),
    responses((status = 200, body = ListResponse<ReadingView>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`meter_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/meters/{id}/readings")]
pub async fn list(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    page: web::Query<ListQuery>,
    q: web::Query<ReadingQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let page = page.page()?;
    let meter = MeterId::from(*id);
    store::meter::get(&state.db, ctx.scope(), meter)
        .await
        .map_err(meter_not_found)?;
    let to =
        q.to.unwrap_or_else(|| Utc::now() + Duration::minutes(CLOCK_SLACK_MINUTES));
    let from = q.from.unwrap_or(to - Duration::days(30));
    if from >= to {
        return Err(ApiError::bad_request(
            "invalid_query",
            "from must be before to",
        ));
    }
    let paged = store::manual_reading::list(&state.db, ctx.org_id, meter, from, to, page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::from_paged(paged, page, ReadingView::from)))
}

/// Daily kWh and cost of an account, as charged (the daily usage the worker keeps).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/usage", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path), UsageQuery),
    responses((status = 200, body = UsageView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/accounts/{id}/usage")]
pub async fn account_usage(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    q: web::Query<UsageQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ_MONEY)?;
    let a = store::account::get(&state.db, ctx.scope(), AccountId::from(*id))
        .await
        .map_err(super::account::not_found)?;
    Ok(HttpResponse::Ok().json(usage_of(&state, &a, q.days).await?))
}
