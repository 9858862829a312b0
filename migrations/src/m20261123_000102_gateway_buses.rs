//! The bus settings of a gateway (transport, device or address, timing) as JSON text keyed by
//! bus name, so the worker can publish a complete `GatewayConfig` when its meters change.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::text_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Gateways {
    Table,
    BusSettings,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Gateways::Table)
                    .add_column(text_null(Gateways::BusSettings))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Gateways::Table)
                    .drop_column(Gateways::BusSettings)
                    .take(),
            )
            .await
    }
}
