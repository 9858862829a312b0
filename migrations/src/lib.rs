//! The database schema of Wattpay as sea-orm migrations, one [`Migrator`] for PostgreSQL 14+ and
//! SQLite alike.
//!
//! Rules the schema keeps (see ARCHITECTURE.md):
//! - money is integer fen (`BIGINT`), energy integer Wh; exact running values with more places
//!   (CT ratios, instantaneous values) are decimal strings, because SQLite has no exact decimal;
//! - public ids are UUID v7; high-volume tables (ledger, readings, outbox, audit) use `BIGINT`
//!   autoincrement ids;
//! - every organization-owned table carries `organization_id` and its indexes start with it;
//! - ledger entries are append-only and unique per idempotency key.
//!
//! A migration that has shipped is never edited: later issues add their own migrations.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261122_000001_identity;
mod m20261122_000002_property;
mod m20261122_000003_metering;
mod m20261122_000004_operations;
mod m20261123_000101_worker;
mod m20261123_000102_gateway_buses;
mod m20261123_000201_api;
mod m20261123_000301_payments;
mod m20261124_000202_tenant_preferences;
mod m20261125_000401_notify_channels;
mod m20261125_000501_user_admin;
mod m20261125_000502_invitation_sites;
mod m20261125_000601_lifecycle;
mod m20261125_000701_ops;

/// Runs every migration of Wattpay in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_identity::Migration),
            Box::new(m20261122_000002_property::Migration),
            Box::new(m20261122_000003_metering::Migration),
            Box::new(m20261122_000004_operations::Migration),
            Box::new(m20261123_000201_api::Migration),
            Box::new(m20261123_000101_worker::Migration),
            Box::new(m20261123_000301_payments::Migration),
            Box::new(m20261123_000102_gateway_buses::Migration),
            Box::new(m20261124_000202_tenant_preferences::Migration),
            Box::new(m20261125_000401_notify_channels::Migration),
            Box::new(m20261125_000501_user_admin::Migration),
            Box::new(m20261125_000601_lifecycle::Migration),
            Box::new(m20261125_000502_invitation_sites::Migration),
            Box::new(m20261125_000701_ops::Migration),
        ]
    }
}
