//! Liveness and readiness probes. `/healthz` says the process serves HTTP; `/readyz` says it can
//! do useful work: the database answers and its schema is current.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::startup::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: &'static str,
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness: the database answers and has no pending migrations.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, body = Health),
    (status = 503, body = crate::error::Problem, content_type = "application/problem+json"),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    store::ping(&state.db)
        .await
        .map_err(|e| ApiError::Unavailable {
            code: "database_unavailable",
            detail: e.to_string(),
        })?;
    let pending =
        store::pending_migrations(&state.db)
            .await
            .map_err(|e| ApiError::Unavailable {
                code: "database_unavailable",
                detail: e.to_string(),
            })?;
    if !pending.is_empty() {
        return Err(ApiError::Unavailable {
            code: "schema_outdated",
            detail: format!("pending migrations: {}", pending.join(", ")),
        });
    }
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}
