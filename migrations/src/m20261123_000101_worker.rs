//! What the worker keeps beyond the core schema: who queued a command and when it is retried,
//! the config version a gateway reports, one open work order per problem, the full
//! charge-control state of each account, daily and monthly usage, job leases and the
//! notification log that deduplicates messages.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, string, string_null, text, text_null, uuid, uuid_null,
};

use crate::columns::{bigint_pk, create_indexes, drop_tables, index, org_fk, ts, ts_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Commands {
    Table,
    RequestedBy,
    NextAttemptAt,
}

#[derive(DeriveIden)]
enum Gateways {
    Table,
    ReportedConfigVersion,
    ConfigError,
}

#[derive(DeriveIden)]
enum WorkOrders {
    Table,
    DedupKey,
}

#[derive(DeriveIden)]
enum ControlStates {
    Table,
    AccountId,
    OrganizationId,
    State,
    Cause,
    Relay,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UsagePeriods {
    Table,
    Id,
    OrganizationId,
    MeterId,
    AccountId,
    Period,
    EnergyWh,
    CostFen,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BalanceFreezes {
    Table,
    Id,
    OrganizationId,
    AccountId,
    Period,
    OpeningFen,
    ClosingFen,
    FrozenAt,
}

#[derive(DeriveIden)]
enum JobLeases {
    Table,
    Name,
    Holder,
    LeasedUntil,
    LastRunAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    OrganizationId,
    DedupKey,
    AccountId,
    Kind,
    Channel,
    Recipient,
    Status,
    Error,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for (table, col) in [
            (
                Commands::Table.into_iden(),
                uuid_null(Commands::RequestedBy),
            ),
            (
                Commands::Table.into_iden(),
                ts_null(Commands::NextAttemptAt),
            ),
            (
                Gateways::Table.into_iden(),
                big_integer_null(Gateways::ReportedConfigVersion),
            ),
            (
                Gateways::Table.into_iden(),
                text_null(Gateways::ConfigError),
            ),
            // Set while the order is open, cleared on resolution: one open order per problem.
            (
                WorkOrders::Table.into_iden(),
                string_null(WorkOrders::DedupKey),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).add_column(col).take())
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ControlStates::Table)
                    .if_not_exists()
                    .col(uuid(ControlStates::AccountId).primary_key())
                    .col(uuid(ControlStates::OrganizationId))
                    // The domain `ControlState` as JSON text.
                    .col(text(ControlStates::State))
                    .col(string(ControlStates::Cause))
                    .col(string_null(ControlStates::Relay))
                    .col(ts(ControlStates::UpdatedAt))
                    .foreign_key(&mut org_fk(ControlStates::Table))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsagePeriods::Table)
                    .if_not_exists()
                    .col(bigint_pk(UsagePeriods::Id))
                    .col(uuid(UsagePeriods::OrganizationId))
                    .col(uuid(UsagePeriods::MeterId))
                    .col(uuid_null(UsagePeriods::AccountId))
                    // `YYYY-MM-DD` (a local day of the site) or `YYYY-MM` (a local month).
                    .col(string(UsagePeriods::Period))
                    .col(big_integer(UsagePeriods::EnergyWh).default(0))
                    .col(big_integer(UsagePeriods::CostFen).default(0))
                    .col(ts(UsagePeriods::UpdatedAt))
                    .foreign_key(&mut org_fk(UsagePeriods::Table))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BalanceFreezes::Table)
                    .if_not_exists()
                    .col(bigint_pk(BalanceFreezes::Id))
                    .col(uuid(BalanceFreezes::OrganizationId))
                    .col(uuid(BalanceFreezes::AccountId))
                    .col(string(BalanceFreezes::Period))
                    .col(big_integer(BalanceFreezes::OpeningFen))
                    .col(big_integer(BalanceFreezes::ClosingFen))
                    .col(ts(BalanceFreezes::FrozenAt))
                    .foreign_key(&mut org_fk(BalanceFreezes::Table))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JobLeases::Table)
                    .if_not_exists()
                    .col(string(JobLeases::Name).primary_key())
                    .col(string(JobLeases::Holder))
                    .col(ts(JobLeases::LeasedUntil))
                    .col(ts_null(JobLeases::LastRunAt))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .if_not_exists()
                    .col(bigint_pk(Notifications::Id))
                    .col(uuid(Notifications::OrganizationId))
                    .col(string(Notifications::DedupKey))
                    .col(uuid_null(Notifications::AccountId))
                    .col(string(Notifications::Kind))
                    .col(string(Notifications::Channel))
                    .col(string(Notifications::Recipient))
                    .col(string(Notifications::Status))
                    .col(text_null(Notifications::Error))
                    .col(ts(Notifications::CreatedAt))
                    .foreign_key(&mut org_fk(Notifications::Table))
                    .take(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(WorkOrders::Table, &["dedup_key"], true),
                index(ControlStates::Table, &["organization_id"], false),
                index(UsagePeriods::Table, &["meter_id", "period"], true),
                index(
                    UsagePeriods::Table,
                    &["organization_id", "account_id", "period"],
                    false,
                ),
                index(BalanceFreezes::Table, &["account_id", "period"], true),
                index(Notifications::Table, &["dedup_key"], true),
                index(
                    Notifications::Table,
                    &["organization_id", "account_id"],
                    false,
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                Notifications::Table.into_iden(),
                JobLeases::Table.into_iden(),
                BalanceFreezes::Table.into_iden(),
                UsagePeriods::Table.into_iden(),
                ControlStates::Table.into_iden(),
            ],
        )
        .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("uniq_work_orders_dedup_key")
                    .table(WorkOrders::Table)
                    .to_owned(),
            )
            .await?;
        for (table, col) in [
            (
                WorkOrders::Table.into_iden(),
                WorkOrders::DedupKey.into_iden(),
            ),
            (
                Gateways::Table.into_iden(),
                Gateways::ConfigError.into_iden(),
            ),
            (
                Gateways::Table.into_iden(),
                Gateways::ReportedConfigVersion.into_iden(),
            ),
            (
                Commands::Table.into_iden(),
                Commands::NextAttemptAt.into_iden(),
            ),
            (
                Commands::Table.into_iden(),
                Commands::RequestedBy.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).take())
                .await?;
        }
        Ok(())
    }
}
