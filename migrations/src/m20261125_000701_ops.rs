//! Operations on many rows at once and the people who follow them up: who a work order is
//! assigned to, and charge-control settings at organization, site and account level.
//!
//! A settings row holds one level's own values; every value is nullable, `NULL` meaning "inherit"
//! (account → site → organization → the built-in defaults). An account's own thresholds stay in
//! `accounts` (where `PATCH /accounts/{id}` already writes them); its row holds the rest.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer_null, string, text_null, uuid, uuid_null};

use crate::columns::{bigint_pk, create_indexes, drop_tables, index, org_fk, ts};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WorkOrders {
    Table,
    AssigneeId,
}

#[derive(DeriveIden)]
enum ControlSettings {
    Table,
    Id,
    OrganizationId,
    Scope,
    ScopeId,
    AlarmThresholdFen,
    TripThresholdFen,
    TripWindows,
    RestoreSlaSecs,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WorkOrders::Table)
                    .add_column(uuid_null(WorkOrders::AssigneeId))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ControlSettings::Table)
                    .if_not_exists()
                    .col(bigint_pk(ControlSettings::Id))
                    .col(uuid(ControlSettings::OrganizationId))
                    // `organization`, `site` or `account`.
                    .col(string(ControlSettings::Scope))
                    // The organization's, site's or account's id.
                    .col(uuid(ControlSettings::ScopeId))
                    .col(big_integer_null(ControlSettings::AlarmThresholdFen))
                    .col(big_integer_null(ControlSettings::TripThresholdFen))
                    // The domain `TripWindows` as JSON text.
                    .col(text_null(ControlSettings::TripWindows))
                    .col(big_integer_null(ControlSettings::RestoreSlaSecs))
                    .col(ts(ControlSettings::UpdatedAt))
                    .foreign_key(&mut org_fk(ControlSettings::Table))
                    .take(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(
                    ControlSettings::Table,
                    &["organization_id", "scope", "scope_id"],
                    true,
                ),
                index(
                    WorkOrders::Table,
                    &["organization_id", "assignee_id"],
                    false,
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![ControlSettings::Table.into_iden()]).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WorkOrders::Table)
                    .drop_column(WorkOrders::AssigneeId)
                    .take(),
            )
            .await
    }
}
