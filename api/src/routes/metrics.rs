//! `GET /metrics`: Prometheus text exposition of [`crate::metrics`]. Open to whoever reaches the
//! port unless `WATTPAY_METRICS_TOKEN` is set, then it wants `Authorization: Bearer <token>`.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret as _;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::startup::AppState;

/// Prometheus metrics: requests by route, latencies, business gauges.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"),
        (status = 401, description = "`invalid_token` when a metrics token is configured", body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/metrics")]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = &state.settings.metrics_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.expose_secret()) {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "`/metrics` wants the metrics token",
            ));
        }
    }
    let mut body = metrics.render()?;
    body.push_str(&crate::metrics::business(&state.db).await);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}
