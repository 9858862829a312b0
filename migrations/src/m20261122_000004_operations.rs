//! Work orders, the transactional outbox and the audit log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, string, string_null, text, text_null, uuid, uuid_null};

use crate::columns::{
    bigint_pk, create_indexes, drop_tables, fk, index, org_fk, ts, ts_null, uuid_pk,
};
use crate::m20261122_000001_identity::Users;
use crate::m20261122_000002_property::Accounts;
use crate::m20261122_000003_metering::{Gateways, Meters};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WorkOrders {
    Table,
    Id,
    OrganizationId,
    Kind,
    Status,
    Title,
    Detail,
    AccountId,
    MeterId,
    GatewayId,
    CreatedAt,
    UpdatedAt,
    ResolvedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    OrganizationId,
    Kind,
    Payload,
    CreatedAt,
    AvailableAt,
    Attempts,
    LockedUntil,
    LockedBy,
    ProcessedAt,
    LastError,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    OrganizationId,
    ActorUserId,
    Action,
    TargetType,
    TargetId,
    Detail,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WorkOrders::Table)
                    .if_not_exists()
                    .col(uuid_pk(WorkOrders::Id))
                    .col(uuid(WorkOrders::OrganizationId))
                    .col(string(WorkOrders::Kind))
                    .col(string(WorkOrders::Status).default("open"))
                    .col(string(WorkOrders::Title))
                    .col(text(WorkOrders::Detail).default(""))
                    .col(uuid_null(WorkOrders::AccountId))
                    .col(uuid_null(WorkOrders::MeterId))
                    .col(uuid_null(WorkOrders::GatewayId))
                    .col(ts(WorkOrders::CreatedAt))
                    .col(ts(WorkOrders::UpdatedAt))
                    .col(ts_null(WorkOrders::ResolvedAt))
                    .foreign_key(&mut org_fk(WorkOrders::Table))
                    .foreign_key(&mut fk(
                        WorkOrders::Table,
                        WorkOrders::AccountId,
                        Accounts::Table,
                        Accounts::Id,
                    ))
                    .foreign_key(&mut fk(
                        WorkOrders::Table,
                        WorkOrders::MeterId,
                        Meters::Table,
                        Meters::Id,
                    ))
                    .foreign_key(&mut fk(
                        WorkOrders::Table,
                        WorkOrders::GatewayId,
                        Gateways::Table,
                        Gateways::Id,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(bigint_pk(Outbox::Id))
                    .col(uuid_null(Outbox::OrganizationId))
                    .col(string(Outbox::Kind))
                    .col(text(Outbox::Payload))
                    .col(ts(Outbox::CreatedAt))
                    .col(ts(Outbox::AvailableAt))
                    .col(integer(Outbox::Attempts).default(0))
                    .col(ts_null(Outbox::LockedUntil))
                    .col(string_null(Outbox::LockedBy))
                    .col(ts_null(Outbox::ProcessedAt))
                    .col(text_null(Outbox::LastError))
                    .foreign_key(&mut org_fk(Outbox::Table))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(bigint_pk(AuditLog::Id))
                    .col(uuid_null(AuditLog::OrganizationId))
                    .col(uuid_null(AuditLog::ActorUserId))
                    .col(string(AuditLog::Action))
                    .col(string(AuditLog::TargetType))
                    .col(string(AuditLog::TargetId))
                    .col(text(AuditLog::Detail))
                    .col(ts(AuditLog::CreatedAt))
                    .foreign_key(&mut org_fk(AuditLog::Table))
                    .foreign_key(&mut fk(
                        AuditLog::Table,
                        AuditLog::ActorUserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .take(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(
                    WorkOrders::Table,
                    &["organization_id", "status", "created_at"],
                    false,
                ),
                index(WorkOrders::Table, &["organization_id", "meter_id"], false),
                // The claim query: unprocessed rows in order of availability.
                index(Outbox::Table, &["processed_at", "available_at"], false),
                index(AuditLog::Table, &["organization_id", "created_at"], false),
                index(
                    AuditLog::Table,
                    &["organization_id", "target_type", "target_id"],
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
                AuditLog::Table.into_iden(),
                Outbox::Table.into_iden(),
                WorkOrders::Table.into_iden(),
            ],
        )
        .await
    }
}
