//! Sites, buildings, units, tenants, tariffs (their versions come with metering), prepaid
//! accounts and their append-only ledger.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, boolean, string, string_null, uuid, uuid_null};

use crate::columns::{
    bigint_pk, create_indexes, drop_tables, fk, index, org_fk, ts, ts_null, uuid_pk,
};
use crate::m20261122_000001_identity::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Sites {
    Table,
    Id,
    OrganizationId,
    Name,
    Timezone,
    Address,
    AlarmThresholdFen,
    TripThresholdFen,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Buildings {
    Table,
    Id,
    OrganizationId,
    SiteId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Units {
    Table,
    Id,
    OrganizationId,
    BuildingId,
    Name,
    Kind,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    OrganizationId,
    Name,
    Phone,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Tariffs {
    Table,
    Id,
    OrganizationId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Accounts {
    Table,
    Id,
    OrganizationId,
    UnitId,
    TenantId,
    AccountNo,
    BalanceFen,
    Status,
    AlarmThresholdFen,
    TripThresholdFen,
    Protected,
    ProtectReason,
    CcState,
    TariffId,
    OpenedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum LedgerEntries {
    Table,
    Id,
    OrganizationId,
    AccountId,
    Kind,
    AmountFen,
    BalanceAfterFen,
    IdempotencyKey,
    CorrectsEntryId,
    Memo,
    CreatedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sites::Table)
                    .if_not_exists()
                    .col(uuid_pk(Sites::Id))
                    .col(uuid(Sites::OrganizationId))
                    .col(string(Sites::Name))
                    .col(string(Sites::Timezone).default("Asia/Shanghai"))
                    .col(string(Sites::Address).default(""))
                    .col(big_integer(Sites::AlarmThresholdFen).default(2000))
                    .col(big_integer(Sites::TripThresholdFen).default(0))
                    .col(ts(Sites::CreatedAt))
                    .foreign_key(&mut org_fk(Sites::Table))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Buildings::Table)
                    .if_not_exists()
                    .col(uuid_pk(Buildings::Id))
                    .col(uuid(Buildings::OrganizationId))
                    .col(uuid(Buildings::SiteId))
                    .col(string(Buildings::Name))
                    .col(ts(Buildings::CreatedAt))
                    .foreign_key(&mut org_fk(Buildings::Table))
                    .foreign_key(&mut fk(
                        Buildings::Table,
                        Buildings::SiteId,
                        Sites::Table,
                        Sites::Id,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Units::Table)
                    .if_not_exists()
                    .col(uuid_pk(Units::Id))
                    .col(uuid(Units::OrganizationId))
                    .col(uuid(Units::BuildingId))
                    .col(string(Units::Name))
                    // `flat` or `shop`.
                    .col(string(Units::Kind))
                    .col(ts(Units::CreatedAt))
                    .foreign_key(&mut org_fk(Units::Table))
                    .foreign_key(&mut fk(
                        Units::Table,
                        Units::BuildingId,
                        Buildings::Table,
                        Buildings::Id,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .if_not_exists()
                    .col(uuid_pk(Tenants::Id))
                    .col(uuid(Tenants::OrganizationId))
                    .col(string(Tenants::Name))
                    .col(string_null(Tenants::Phone))
                    .col(ts(Tenants::CreatedAt))
                    .foreign_key(&mut org_fk(Tenants::Table))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Tariffs::Table)
                    .if_not_exists()
                    .col(uuid_pk(Tariffs::Id))
                    .col(uuid(Tariffs::OrganizationId))
                    .col(string(Tariffs::Name))
                    .col(ts(Tariffs::CreatedAt))
                    .foreign_key(&mut org_fk(Tariffs::Table))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .if_not_exists()
                    .col(uuid_pk(Accounts::Id))
                    .col(uuid(Accounts::OrganizationId))
                    .col(uuid(Accounts::UnitId))
                    .col(uuid_null(Accounts::TenantId))
                    .col(string(Accounts::AccountNo))
                    .col(big_integer(Accounts::BalanceFen).default(0))
                    // `open` or `closed`.
                    .col(string(Accounts::Status).default("open"))
                    .col(
                        ColumnDef::new(Accounts::AlarmThresholdFen)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Accounts::TripThresholdFen)
                            .big_integer()
                            .null(),
                    )
                    .col(boolean(Accounts::Protected).default(false))
                    .col(string_null(Accounts::ProtectReason))
                    .col(string(Accounts::CcState).default("normal"))
                    .col(uuid_null(Accounts::TariffId))
                    .col(ts(Accounts::OpenedAt))
                    .col(ts_null(Accounts::ClosedAt))
                    .foreign_key(&mut org_fk(Accounts::Table))
                    .foreign_key(&mut fk(
                        Accounts::Table,
                        Accounts::UnitId,
                        Units::Table,
                        Units::Id,
                    ))
                    .foreign_key(&mut fk(
                        Accounts::Table,
                        Accounts::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                    ))
                    .foreign_key(&mut fk(
                        Accounts::Table,
                        Accounts::TariffId,
                        Tariffs::Table,
                        Tariffs::Id,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LedgerEntries::Table)
                    .if_not_exists()
                    .col(bigint_pk(LedgerEntries::Id))
                    .col(uuid(LedgerEntries::OrganizationId))
                    .col(uuid(LedgerEntries::AccountId))
                    .col(string(LedgerEntries::Kind))
                    .col(big_integer(LedgerEntries::AmountFen))
                    .col(big_integer(LedgerEntries::BalanceAfterFen))
                    .col(string(LedgerEntries::IdempotencyKey))
                    .col(
                        ColumnDef::new(LedgerEntries::CorrectsEntryId)
                            .big_integer()
                            .null(),
                    )
                    .col(string_null(LedgerEntries::Memo))
                    .col(uuid_null(LedgerEntries::CreatedBy))
                    .col(ts(LedgerEntries::CreatedAt))
                    .foreign_key(&mut org_fk(LedgerEntries::Table))
                    .foreign_key(&mut fk(
                        LedgerEntries::Table,
                        LedgerEntries::AccountId,
                        Accounts::Table,
                        Accounts::Id,
                    ))
                    .foreign_key(&mut fk(
                        LedgerEntries::Table,
                        LedgerEntries::CorrectsEntryId,
                        LedgerEntries::Table,
                        LedgerEntries::Id,
                    ))
                    .foreign_key(&mut fk(
                        LedgerEntries::Table,
                        LedgerEntries::CreatedBy,
                        Users::Table,
                        Users::Id,
                    ))
                    .take(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(Sites::Table, &["organization_id", "name"], false),
                index(Buildings::Table, &["organization_id", "site_id"], false),
                index(Units::Table, &["organization_id", "building_id"], false),
                index(Tenants::Table, &["organization_id", "phone"], false),
                index(Tariffs::Table, &["organization_id", "name"], false),
                // Globally unique: it is printed on the door QR code.
                index(Accounts::Table, &["account_no"], true),
                index(Accounts::Table, &["organization_id", "unit_id"], false),
                index(Accounts::Table, &["organization_id", "tenant_id"], false),
                index(LedgerEntries::Table, &["idempotency_key"], true),
                index(
                    LedgerEntries::Table,
                    &["organization_id", "account_id", "id"],
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
                LedgerEntries::Table.into_iden(),
                Accounts::Table.into_iden(),
                Tariffs::Table.into_iden(),
                Tenants::Table.into_iden(),
                Units::Table.into_iden(),
                Buildings::Table.into_iden(),
                Sites::Table.into_iden(),
            ],
        )
        .await
    }
}
