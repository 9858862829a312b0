//! CSV imports: `POST /api/v1/imports/{units|tenants|meters}?dry_run=true` with the file as the
//! body (UTF-8 with or without a BOM, or GBK as Excel saves it). The rules are
//! [`crate::service::import`]'s: every bad row reported, nothing imported until the file is
//! clean, a clean file imported in one transaction.

use actix_web::{post, web, HttpResponse};
use futures_util::StreamExt as _;
use sea_orm::TransactionTrait as _;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::service::import::{self, ImportReport, Kind};
use crate::startup::AppState;

/// The largest file accepted.
const MAX_BYTES: usize = 4 * 1024 * 1024;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check the file and report every bad row without importing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// Import units, tenants or meters from a CSV file.
///
/// The first row names the columns (any order, case-insensitive):
/// - `units`: `site` (name or id), `building` (name; created in the site when missing), `unit`
///   (name), optional `kind` (`flat`/住宅 or `shop`/商铺, default `flat`);
/// - `tenants`: `name`, optional `phone`;
/// - `meters`: `gateway` (its `gw-...` id), `bus`, `slave` (1–247), `wire_id`, `model`, optional
///   `site`, `building`, `unit` (the unit it meters, all three or none), `ct_ratio` (default 1),
///   `max_power_kw` (default 60).
///
/// A dry run answers 200 with `valid` and every error; a real run of a file with any bad row
/// answers 422 `invalid_rows` with the same `errors` and imports nothing; a clean file is
/// imported in one transaction (201).
#[utoipa::path(post, path = "/api/v1/imports/{kind}", tag = "imports", security(("bearer" = [])),
    params(("kind" = String, Path, description = "`units`, `tenants` or `meters`"), ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "The CSV file; the header row names the columns described above."),
    responses((status = 200, description = "Dry run", body = ImportReport),
        (status = 201, description = "Imported", body = ImportReport),
        (status = 400, description = "`invalid_import_kind`, `invalid_encoding`, `body_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_rows` with `errors` (`{row, field, code, message}`); nothing imported", body = Problem, content_type = "application/problem+json")))]
#[post("/imports/{kind}")]
pub async fn upload(
    ctx: OrgContext,
    state: web::Data<AppState>,
    kind: web::Path<String>,
    q: web::Query<ImportQuery>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let kind = Kind::parse(&kind).ok_or_else(|| {
        ApiError::bad_request("invalid_import_kind", "import units, tenants or meters")
    })?;
    ctx.require(if kind == Kind::Meters {
        roles::DEVICES
    } else {
        roles::MANAGE
    })?;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(ApiError::bad_request(
                "body_too_large",
                "the file is larger than 4 MiB: split it",
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let text = import::csv::decode(&body).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_encoding",
            "the file is neither UTF-8 nor GBK: save it as CSV UTF-8",
        )
    })?;
    let write = !q.dry_run;
    let txn = state.db.begin().await?;
    let report = import::run(&txn, &ctx, kind, &text, write).await?;
    if !report.valid && write {
        txn.rollback().await?;
        return Err(ApiError::InvalidFields {
            code: "invalid_rows",
            detail: format!(
                "{} error(s) in the file; nothing was imported",
                report.errors.len()
            ),
            errors: report.errors,
        });
    }
    if write {
        txn.commit().await?;
        Ok(HttpResponse::Created().json(report))
    } else {
        txn.rollback().await?;
        Ok(HttpResponse::Ok().json(report))
    }
}
