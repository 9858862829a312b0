//! Tariffs and their versions: creating a tariff and adding a version, each audited in its
//! transaction; called by `/api/v1/tariffs` and by the manager's tariff editor.
//!
//! Rules kept here: a version is validated by the domain rules before it is stored (invalid:
//! `invalid_tariff`), so the worker never meets a tariff it cannot rate with; two versions of a
//! tariff never start at the same time (`already_exists`).

use sea_orm::{DatabaseConnection, TransactionTrait as _};
use store::{Tariff, TariffId, TariffVersion};

use crate::auth::OrgContext;
use crate::error::ApiError;

fn not_found(e: store::StoreError) -> ApiError {
    ApiError::from_store(e, "tariff_not_found", "tariff")
}

/// Creates a tariff named `name` (already validated by the caller).
pub async fn create(
    db: &DatabaseConnection,
    ctx: &OrgContext,
    name: String,
) -> Result<Tariff, ApiError> {
    let ctx = *ctx;
    Ok(db
        .transaction::<_, Tariff, ApiError>(|txn| {
            Box::pin(async move {
                let t = store::tariff::create(txn, ctx.org_id, &name).await?;
                ctx.audit(
                    txn,
                    "tariff.create",
                    "tariff",
                    t.id,
                    serde_json::json!({"after": &t}),
                )
                .await?;
                Ok(t)
            })
        })
        .await?)
}

/// Validates and adds a version to a tariff of the caller's organization.
pub async fn add_version(
    db: &DatabaseConnection,
    ctx: &OrgContext,
    id: TariffId,
    version: domain::TariffVersion,
) -> Result<TariffVersion, ApiError> {
    version
        .validate()
        .map_err(|e| ApiError::unprocessable("invalid_tariff", e.to_string()))?;
    let definition = serde_json::to_value(&version).map_err(anyhow::Error::from)?;
    let ctx = *ctx;
    Ok(db
        .transaction::<_, TariffVersion, ApiError>(|txn| {
            Box::pin(async move {
                store::tariff::get(txn, ctx.org_id, id)
                    .await
                    .map_err(not_found)?;
                let v = store::tariff::add_version(
                    txn,
                    ctx.org_id,
                    id,
                    version.effective_from,
                    &definition,
                )
                .await?;
                ctx.audit(
                    txn,
                    "tariff.add_version",
                    "tariff",
                    id,
                    serde_json::json!({"after": &v}),
                )
                .await?;
                Ok(v)
            })
        })
        .await?)
}
