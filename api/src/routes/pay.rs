//! Payments over HTTP: the public order endpoint the door page calls, the order status the
//! page polls, and the provider notification callbacks (answered exactly as each provider
//! expects, see PAYMENTS.md).

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use payments::notify::NotifyAnswer;
use payments::order::{OrderCreated, OrderRequest};
use payments::wechat::notify::SignedHeaders;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::pay::{api_error, rate_limited};
use crate::startup::AppState;

/// Mounts the payment routes (before the `/api/v1` scope, whose prefix would swallow them).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create_order)
        .service(order_status)
        .service(notify)
        .service(super::pay_merchant::create)
        .service(super::pay_merchant::list)
        .service(super::pay_merchant::import_bill)
        .service(super::pay_refund::create)
        .service(super::pay_refund::approve)
        .service(super::sandbox::page)
        .service(super::sandbox::pay);
}

/// Create a payment order for an account (public: the door page calls it; rate limited).
#[utoipa::path(post, path = "/api/v1/pay/orders", tag = "payments", request_body = OrderRequest,
    responses(
        (status = 201, body = OrderCreated),
        (status = 400, description = "`invalid_amount`, `amount_out_of_range`, `too_many_pending_orders`, `provider_unavailable`, `invalid_channel`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`account_not_found`, `merchant_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`provider_unavailable`: the provider refused or did not answer", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/pay/orders")]
pub async fn create_order(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<OrderRequest>,
) -> Result<HttpResponse, ApiError> {
    let ip = req.peer_addr().map(|a| a.ip());
    if !state.pay.allow_order(ip) {
        return Ok(rate_limited());
    }
    let ip_text = ip.map(|ip| ip.to_string());
    let created = payments::order::create_order(
        &state.db,
        &state.pay.clients,
        body.into_inner(),
        ip_text.as_deref(),
        chrono::Utc::now(),
    )
    .await
    .map_err(api_error)?;
    Ok(HttpResponse::Created().json(created))
}

/// What the payer's page may know about an order.
#[derive(Serialize, ToSchema)]
pub struct OrderStatus {
    pub order_id: uuid::Uuid,
    pub amount: String,
    pub provider: String,
    /// `pending`, `paid`, `closed` or `expired`.
    pub status: String,
}

/// The status of a payment order (public: the order id is the payer's capability).
#[utoipa::path(get, path = "/api/v1/pay/orders/{order_id}", tag = "payments",
    params(("order_id" = uuid::Uuid, Path)),
    responses(
        (status = 200, body = OrderStatus),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/api/v1/pay/orders/{order_id}")]
pub async fn order_status(
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let order = store::payment::get_public(&state.db, path.into_inner().into()).await?;
    Ok(HttpResponse::Ok().json(OrderStatus {
        order_id: order.id.into(),
        amount: domain::Money::from_fen(order.amount_fen).to_string(),
        provider: order.provider,
        status: serde_json::to_value(order.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    }))
}

/// A provider's payment or refund notification. WeChat and sandbox: 204, or 4xx/5xx with
/// `{"code":"FAIL","message"}`. Alipay: the plain text `success`, or `fail`.
#[utoipa::path(post, path = "/api/v1/pay/notify/{provider}/{merchant_id}", tag = "payments",
    params(("provider" = String, Path, description = "`wechat`, `alipay` or `sandbox`"),
           ("merchant_id" = uuid::Uuid, Path, description = "our merchant id")),
    request_body(content = String, description = "the provider's raw notification"),
    responses(
        (status = 200, description = "Alipay: `success`"),
        (status = 204, description = "WeChat/sandbox: accepted (also a duplicate)"),
        (status = 401, description = "not verified"),
        (status = 404, description = "unknown merchant"),
    ))]
#[post("/api/v1/pay/notify/{provider}/{merchant_id}")]
pub async fn notify(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (provider, merchant_id) = path.into_inner();
    let source = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    let now = chrono::Utc::now();
    match provider.as_str() {
        "alipay" => {
            let answer = payments::notify::handle_alipay(
                &state.db,
                &state.pay.clients,
                &merchant_id,
                &body,
                &source,
                now,
            )
            .await;
            match answer {
                NotifyAnswer::Ok => HttpResponse::Ok()
                    .content_type("text/plain")
                    .body("success"),
                NotifyAnswer::Fail { status, .. } => HttpResponse::build(status_code(status))
                    .content_type("text/plain")
                    .body("fail"),
            }
        }
        "wechat" | "sandbox" => {
            let headers = SignedHeaders::from_lookup(|name| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            });
            let answer = payments::notify::handle_wechat(
                &state.db,
                &state.pay.clients,
                &provider,
                &merchant_id,
                &headers,
                &body,
                &source,
                now,
            )
            .await;
            wechat_answer(answer)
        }
        _ => wechat_answer(NotifyAnswer::Fail {
            status: 404,
            message: "unknown provider".into(),
        }),
    }
}

fn status_code(status: u16) -> actix_web::http::StatusCode {
    actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
}

fn wechat_answer(answer: NotifyAnswer) -> HttpResponse {
    match answer {
        NotifyAnswer::Ok => HttpResponse::NoContent().finish(),
        NotifyAnswer::Fail { status, message } => HttpResponse::build(status_code(status))
            .json(serde_json::json!({"code": "FAIL", "message": message})),
    }
}
