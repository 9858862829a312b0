//! Tenants' notification preferences, one row per phone (a phone may hold accounts in several
//! organizations; the preferences are the person's). No row means the defaults: everything on.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, string};

use crate::columns::ts;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TenantPreferences {
    Table,
    Phone,
    LowBalance,
    PowerEvents,
    PaymentReceipts,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantPreferences::Table)
                    .if_not_exists()
                    .col(string(TenantPreferences::Phone).primary_key())
                    .col(boolean(TenantPreferences::LowBalance).default(true))
                    .col(boolean(TenantPreferences::PowerEvents).default(true))
                    .col(boolean(TenantPreferences::PaymentReceipts).default(true))
                    .col(ts(TenantPreferences::UpdatedAt))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TenantPreferences::Table).to_owned())
            .await
    }
}
