//! The Wattpay worker: ingestion of readings and acks, rating, charge control, commands,
//! notifications and schedules.
//!
//! Foundation state: the process starts against a current schema and waits for its jobs; the
//! jobs themselves (MQTT ingestion, rating, charge control) arrive with the worker issue.

use sea_orm::DatabaseConnection;

/// Runs the worker until Ctrl-C.
pub async fn run(db: DatabaseConnection) -> anyhow::Result<()> {
    store::ping(&db).await?;
    tracing::info!("worker started; no jobs are registered in this version");
    tokio::signal::ctrl_c().await?;
    tracing::info!("worker stopping");
    Ok(())
}
