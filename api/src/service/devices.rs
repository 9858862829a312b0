//! Registering gateways and adding meters, each audited in its transaction; called by
//! `POST /api/v1/gateways`, `POST /api/v1/meters` and the manager's device pages.
//!
//! Rules kept here: a gateway's MQTT password is generated here, only its Mosquitto-format hash
//! is stored, and the plain password is handed back once to show to the person registering it;
//! a new meter makes the worker republish its gateway's config (an outbox row in the same
//! transaction), so the agent starts polling it without a restart.

use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait as _};
use store::gateway::NewGateway;
use store::meter::NewMeter;
use store::{Gateway, GatewayId, Meter, OrgId, SiteId};

use crate::auth::OrgContext;
use crate::error::ApiError;
use crate::mqtt_password;

/// Registers a gateway; answers it with its MQTT password (shown once, never stored).
pub async fn create_gateway(
    db: &DatabaseConnection,
    ctx: &OrgContext,
    site_id: SiteId,
    wire_id: String,
    name: String,
) -> Result<(Gateway, String), ApiError> {
    let password = mqtt_password::generate_password();
    let new = NewGateway {
        site_id,
        gateway_id: wire_id,
        name,
        mqtt_password_hash: Some(mqtt_password::hash(&password)),
    };
    let ctx = *ctx;
    let g = db
        .transaction::<_, Gateway, ApiError>(|txn| {
            Box::pin(async move {
                let g = store::gateway::create(txn, ctx.scope(), new)
                    .await
                    .map_err(|e| ApiError::from_store(e, "site_not_found", "site"))?;
                ctx.audit(
                    txn,
                    "gateway.create",
                    "gateway",
                    g.id,
                    serde_json::json!({"after": &g}),
                )
                .await?;
                Ok(g)
            })
        })
        .await?;
    Ok((g, password))
}

/// Tells the worker to republish a gateway's config.
pub async fn config_changed(
    conn: &impl ConnectionTrait,
    org: OrgId,
    gateway: GatewayId,
) -> Result<(), ApiError> {
    let g = store::gateway::get(conn, org, gateway).await?;
    store::outbox::enqueue(
        conn,
        Some(org),
        store::outbox::kind::GATEWAY_CONFIG_CHANGED,
        serde_json::json!({"gateway_id": g.id, "gateway": g.gateway_id}),
    )
    .await?;
    Ok(())
}

/// Adds a meter (already checked field by field by the caller) to a gateway.
pub async fn add_meter(
    db: &DatabaseConnection,
    ctx: &OrgContext,
    new: NewMeter,
) -> Result<Meter, ApiError> {
    let ctx = *ctx;
    Ok(db
        .transaction::<_, Meter, ApiError>(|txn| {
            Box::pin(async move {
                let m = store::meter::create(txn, ctx.scope(), new).await?;
                config_changed(txn, ctx.org_id, m.gateway_id).await?;
                ctx.audit(
                    txn,
                    "meter.create",
                    "meter",
                    m.id,
                    serde_json::json!({"after": &m}),
                )
                .await?;
                Ok(m)
            })
        })
        .await?)
}
