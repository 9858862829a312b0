//! The counter desk over HTTP: `POST /api/v1/accounts/{id}/payments` (with `Idempotency-Key`),
//! adjustments, `GET /api/v1/receipts/{id}` and its printable page, reversals (冲正) and the
//! cashier's day-end report (日结).

use std::collections::BTreeMap;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use store::counter::{Outcome, PaymentMethod, Receipt};
use store::AccountId;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::money::{parse_positive_amount, show};
use crate::service::counter as service;
use crate::startup::AppState;

#[derive(Serialize, ToSchema)]
pub struct ReceiptView {
    pub id: Uuid,
    /// Sequential within the organization.
    pub receipt_no: i64,
    pub account_id: Uuid,
    /// `payment`, `reversal` or `adjustment`.
    pub kind: String,
    pub method: Option<String>,
    /// Signed yuan as posted.
    pub amount: String,
    pub balance_after: String,
    pub note: Option<String>,
    pub reverses_receipt_id: Option<Uuid>,
    pub cashier_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// True when this answers a repeated request (nothing was posted again).
    pub duplicate: bool,
}

impl ReceiptView {
    fn new(r: Receipt, duplicate: bool) -> Self {
        ReceiptView {
            amount: show(r.amount()),
            balance_after: show(r.balance_after()),
            id: r.id,
            receipt_no: r.receipt_no,
            account_id: r.account_id.into(),
            kind: r.kind,
            method: r.method,
            note: r.note,
            reverses_receipt_id: r.reverses_receipt_id,
            cashier_id: r.cashier_id.map(Into::into),
            created_at: r.created_at,
            duplicate,
        }
    }
}

fn answer(o: Outcome) -> HttpResponse {
    let status = if o.duplicate {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::CREATED
    };
    HttpResponse::build(status).json(ReceiptView::new(o.receipt, o.duplicate))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterPayment {
    /// Yuan, `^\d+(\.\d{1,2})?$`, more than 0.
    pub amount: String,
    pub method: PaymentMethodParam,
    pub note: Option<String>,
}

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethodParam {
    Cash,
    Card,
    Transfer,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    pub amount: String,
    /// `credit` adds to the balance, `debit` takes from it.
    pub direction: String,
    pub reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reversal {
    pub reason: String,
    /// Org admins only: reverse even below the trip threshold.
    #[serde(default)]
    pub r#override: bool,
}

fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    req.headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::bad_request(
                "idempotency_key_required",
                "send an Idempotency-Key header (1 to 200 characters)",
            )
        })
}

fn note(n: Option<String>) -> Option<String> {
    n.map(|s| s.trim().chars().take(200).collect::<String>())
        .filter(|s| !s.is_empty())
}

/// Take a counter payment. The same `Idempotency-Key` again answers the first receipt (200).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/payments", tag = "counter", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = String, Header)), request_body = CounterPayment,
    responses((status = 201, body = ReceiptView), (status = 200, description = "a repeated request", body = ReceiptView),
        (status = 400, description = "`invalid_amount`, `idempotency_key_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_key_reused`, `account_closed`", body = Problem, content_type = "application/problem+json")))]
#[post("/accounts/{id}/payments")]
pub async fn pay(
    ctx: OrgContext,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<CounterPayment>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let key = idempotency_key(&req)?;
    let body = body.into_inner();
    let amount = parse_positive_amount("amount", &body.amount)?;
    let method = match body.method {
        PaymentMethodParam::Cash => PaymentMethod::Cash,
        PaymentMethodParam::Card => PaymentMethod::Card,
        PaymentMethodParam::Transfer => PaymentMethod::Transfer,
    };
    let o = service::take_payment(
        &state.db,
        ctx.scope(),
        ctx.user_id,
        AccountId::from(*id),
        amount,
        method,
        note(body.note),
        &key,
    )
    .await?;
    Ok(answer(o))
}

/// An org admin's balance adjustment with a reason.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/adjustments", tag = "counter", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = String, Header)), request_body = Adjustment,
    responses((status = 201, body = ReceiptView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json")))]
#[post("/accounts/{id}/adjustments")]
pub async fn adjust(
    ctx: OrgContext,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Adjustment>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::ADMIN)?;
    let key = idempotency_key(&req)?;
    let body = body.into_inner();
    let amount = parse_positive_amount("amount", &body.amount)?;
    let signed = match body.direction.as_str() {
        "credit" => amount,
        "debit" => -amount,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "direction is credit or debit",
            ))
        }
    };
    let reason = note(Some(body.reason))
        .ok_or_else(|| ApiError::bad_request("reason_required", "an adjustment needs a reason"))?;
    let o = service::adjust(&state.db, &ctx, AccountId::from(*id), signed, reason, &key).await?;
    Ok(answer(o))
}

/// One receipt.
#[utoipa::path(get, path = "/api/v1/receipts/{id}", tag = "counter", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ReceiptView),
        (status = 404, description = "`receipt_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/receipts/{id}")]
pub async fn receipt(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ_MONEY)?;
    let r = store::counter::get(&state.db, ctx.scope(), *id)
        .await
        .map_err(|e| ApiError::from_store(e, "receipt_not_found", "receipt"))?;
    Ok(HttpResponse::Ok().json(ReceiptView::new(r, false)))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The receipt as a printable page (Chinese first, English second).
#[utoipa::path(get, path = "/api/v1/receipts/{id}/print", tag = "counter", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "text/html", body = String),
        (status = 404, description = "`receipt_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/receipts/{id}/print")]
pub async fn print(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ_MONEY)?;
    let r = store::counter::get(&state.db, ctx.scope(), *id)
        .await
        .map_err(|e| ApiError::from_store(e, "receipt_not_found", "receipt"))?;
    let account = store::account::get(&state.db, ctx.scope(), r.account_id).await?;
    let org = store::organization::get_organization(&state.db, ctx.org_id).await?;
    let kind = match r.kind.as_str() {
        "payment" => "收款 Payment",
        "reversal" => "冲正 Reversal",
        _ => "调账 Adjustment",
    };
    let when = r
        .created_at
        .with_timezone(&service::business_tz())
        .format("%Y-%m-%d %H:%M:%S");
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>收据 Receipt No. {no}</title>\
<style>body{{font-family:sans-serif;max-width:22em;margin:1em auto}}td{{padding:.2em .5em}}@media print{{button{{display:none}}}}</style></head>\
<body><h1>{org}</h1><h2>收据 Receipt No. {no}</h2><table>\
<tr><td>类型 Kind</td><td>{kind}</td></tr><tr><td>户号 Account</td><td>{acc}</td></tr>\
<tr><td>金额 Amount</td><td>¥{amount}</td></tr><tr><td>方式 Method</td><td>{method}</td></tr>\
<tr><td>余额 Balance</td><td>¥{balance}</td></tr><tr><td>时间 Time</td><td>{when} (UTC+8)</td></tr>\
<tr><td>备注 Note</td><td>{note}</td></tr></table><button onclick=\"window.print()\">打印 Print</button></body></html>",
        org = escape(&org.name), no = r.receipt_no, acc = escape(&account.account_no), amount = show(r.amount()),
        method = escape(r.method.as_deref().unwrap_or("-")), balance = show(r.balance_after()),
        note = escape(r.note.as_deref().unwrap_or("")),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// Reverse a payment (冲正): same business day, by its cashier or an org admin, once.
#[utoipa::path(post, path = "/api/v1/receipts/{id}/reversal", tag = "counter", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = Reversal,
    responses((status = 201, body = ReceiptView), (status = 200, description = "already reversed", body = ReceiptView),
        (status = 404, description = "`receipt_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`below_trip_threshold`, `reversal_window_closed`, `not_your_receipt`, `not_reversible`", body = Problem, content_type = "application/problem+json")))]
#[post("/receipts/{id}/reversal")]
pub async fn reverse(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<Reversal>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let body = body.into_inner();
    let reason = note(Some(body.reason))
        .ok_or_else(|| ApiError::bad_request("reason_required", "a reversal needs a reason"))?;
    let o = service::reverse(&state.db, &ctx, *id, reason, body.r#override, Utc::now()).await?;
    Ok(answer(o))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayQuery {
    /// The business day (China time), `YYYY-MM-DD`; default today.
    pub date: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema, Default)]
pub struct Tally {
    pub count: u64,
    pub total: String,
}

#[derive(Serialize, ToSchema)]
pub struct DayEndReport {
    pub date: NaiveDate,
    /// Payments by method (`cash`, `card`, `transfer`).
    pub payments_by_method: BTreeMap<String, Tally>,
    /// Payments by cashier id.
    pub payments_by_cashier: BTreeMap<String, Tally>,
    pub payments: Tally,
    pub reversals: Tally,
    pub adjustments: Tally,
    /// Payments plus reversals plus adjustments.
    pub net_total: String,
}

/// The cashier's day-end report (日结).
#[utoipa::path(get, path = "/api/v1/reports/day-end", tag = "counter", security(("bearer" = [])),
    params(DayQuery), responses((status = 200, body = DayEndReport),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/reports/day-end")]
pub async fn day_end(
    ctx: OrgContext,
    state: web::Data<AppState>,
    q: web::Query<DayQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ_MONEY)?;
    let date = q.date.unwrap_or_else(|| {
        Utc::now()
            .with_timezone(&service::business_tz())
            .date_naive()
    });
    let report = service::day_end(&state.db, ctx.scope(), date).await?;
    let tally = |sum: service::Sum| Tally {
        count: sum.count,
        total: show(domain::Money::from_fen(sum.fen)),
    };
    let group = |g: &BTreeMap<String, service::Sum>| {
        g.iter()
            .map(|(k, v)| (k.clone(), tally(*v)))
            .collect::<BTreeMap<_, _>>()
    };
    Ok(HttpResponse::Ok().json(DayEndReport {
        date,
        payments_by_method: group(&report.by_method),
        payments_by_cashier: group(&report.by_cashier),
        payments: tally(report.payments),
        reversals: tally(report.reversals),
        adjustments: tally(report.adjustments),
        net_total: show(domain::Money::from_fen(report.net_fen)),
    }))
}
