//! Account lifecycle: readings entered by hand (a dead meter, a final or start reading at a
//! replacement or a closing) and retired meters. Both are tables of their own beside
//! `readings` and `meters`, so the hot reading path keeps its shape: a manual reading is an
//! ordinary `readings` row (rated like any other) plus a row here saying who entered it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string, text_null, uuid, uuid_null};

use crate::columns::{bigint_pk, create_indexes, drop_tables, fk, index, org_fk, ts};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ManualReadings {
    Table,
    Id,
    OrganizationId,
    MeterId,
    /// The `ts` of the `readings` row it describes.
    Ts,
    /// `manual` (a dead meter), `final` (replacement or closing), `start` (a new meter).
    Purpose,
    EnteredBy,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MeterRetirements {
    Table,
    MeterId,
    OrganizationId,
    RetiredAt,
    /// The meter that took its place, if any.
    ReplacedBy,
    FinalWh,
    /// Its wire id while in service (the row's wire id may be renamed to free it).
    WireId,
    RetiredBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ManualReadings::Table)
                    .if_not_exists()
                    .col(bigint_pk(ManualReadings::Id))
                    .col(uuid(ManualReadings::OrganizationId))
                    .col(uuid(ManualReadings::MeterId))
                    .col(ts(ManualReadings::Ts))
                    .col(string(ManualReadings::Purpose))
                    .col(uuid_null(ManualReadings::EnteredBy))
                    .col(text_null(ManualReadings::Note))
                    .col(ts(ManualReadings::CreatedAt))
                    .foreign_key(&mut org_fk(ManualReadings::Table))
                    .foreign_key(&mut fk(
                        ManualReadings::Table,
                        ManualReadings::MeterId,
                        Alias::new("meters"),
                        Alias::new("id"),
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MeterRetirements::Table)
                    .if_not_exists()
                    .col(uuid(MeterRetirements::MeterId).primary_key())
                    .col(uuid(MeterRetirements::OrganizationId))
                    .col(ts(MeterRetirements::RetiredAt))
                    .col(uuid_null(MeterRetirements::ReplacedBy))
                    .col(big_integer(MeterRetirements::FinalWh))
                    .col(string(MeterRetirements::WireId))
                    .col(uuid_null(MeterRetirements::RetiredBy))
                    .col(ts(MeterRetirements::CreatedAt))
                    .foreign_key(&mut org_fk(MeterRetirements::Table))
                    .foreign_key(&mut fk(
                        MeterRetirements::Table,
                        MeterRetirements::MeterId,
                        Alias::new("meters"),
                        Alias::new("id"),
                    ))
                    .take(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(ManualReadings::Table, &["meter_id", "ts"], true),
                index(
                    ManualReadings::Table,
                    &["organization_id", "meter_id", "ts"],
                    false,
                ),
                index(MeterRetirements::Table, &["organization_id"], false),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                MeterRetirements::Table.into_iden(),
                ManualReadings::Table.into_iden(),
            ],
        )
        .await
    }
}
