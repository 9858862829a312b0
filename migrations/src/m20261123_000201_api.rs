//! What the manager and tenant API keeps beyond the core schema: counter-desk receipts with
//! per-organization sequential numbers, tenant one-time codes and privacy consents, user
//! invitations, staff site limits, and work-order notes (assignments, comments, resolutions).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, integer, string, string_null, text, uuid, uuid_null};

use crate::columns::{bigint_pk, create_indexes, drop_tables, index, org_fk, ts, ts_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CounterReceipts {
    Table,
    Id,
    OrganizationId,
    AccountId,
    ReceiptNo,
    Kind,
    Method,
    AmountFen,
    BalanceAfterFen,
    Note,
    IdempotencyKey,
    LedgerEntryId,
    ReversesReceiptId,
    CashierId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ReceiptCounters {
    Table,
    OrganizationId,
    LastNo,
}

#[derive(DeriveIden)]
enum TenantOtps {
    Table,
    Id,
    Phone,
    CodeHash,
    Attempts,
    ExpiresAt,
    ConsumedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TenantConsents {
    Table,
    Phone,
    NoticeVersion,
    ConsentedAt,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    OrganizationId,
    Email,
    Role,
    TokenHash,
    ExpiresAt,
    AcceptedAt,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MembershipSites {
    Table,
    Id,
    OrganizationId,
    UserId,
    SiteId,
}

#[derive(DeriveIden)]
enum WorkOrderNotes {
    Table,
    Id,
    OrganizationId,
    WorkOrderId,
    Kind,
    AuthorId,
    AssigneeId,
    Body,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CounterReceipts::Table)
                    .if_not_exists()
                    .col(uuid_pk(CounterReceipts::Id))
                    .col(uuid(CounterReceipts::OrganizationId))
                    .col(uuid(CounterReceipts::AccountId))
                    .col(big_integer(CounterReceipts::ReceiptNo))
                    // `payment`, `reversal`, `adjustment`.
                    .col(string(CounterReceipts::Kind))
                    .col(string_null(CounterReceipts::Method))
                    .col(big_integer(CounterReceipts::AmountFen))
                    .col(big_integer(CounterReceipts::BalanceAfterFen))
                    .col(string_null(CounterReceipts::Note))
                    .col(string(CounterReceipts::IdempotencyKey))
                    .col(big_integer(CounterReceipts::LedgerEntryId))
                    .col(uuid_null(CounterReceipts::ReversesReceiptId))
                    .col(uuid_null(CounterReceipts::CashierId))
                    .col(ts(CounterReceipts::CreatedAt))
                    .foreign_key(&mut org_fk(CounterReceipts::Table))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReceiptCounters::Table)
                    .if_not_exists()
                    .col(uuid(ReceiptCounters::OrganizationId).primary_key())
                    .col(big_integer(ReceiptCounters::LastNo).default(0))
                    .foreign_key(&mut org_fk(ReceiptCounters::Table))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantOtps::Table)
                    .if_not_exists()
                    .col(bigint_pk(TenantOtps::Id))
                    .col(string(TenantOtps::Phone))
                    // SHA-256 of the code: a database reader cannot sign in with it.
                    .col(string(TenantOtps::CodeHash))
                    .col(integer(TenantOtps::Attempts).default(0))
                    .col(ts(TenantOtps::ExpiresAt))
                    .col(ts_null(TenantOtps::ConsumedAt))
                    .col(ts(TenantOtps::CreatedAt))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantConsents::Table)
                    .if_not_exists()
                    .col(string(TenantConsents::Phone).primary_key())
                    .col(string(TenantConsents::NoticeVersion))
                    .col(ts(TenantConsents::ConsentedAt))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .if_not_exists()
                    .col(uuid_pk(Invitations::Id))
                    .col(uuid(Invitations::OrganizationId))
                    .col(string(Invitations::Email))
                    .col(string(Invitations::Role))
                    .col(string(Invitations::TokenHash))
                    .col(ts(Invitations::ExpiresAt))
                    .col(ts_null(Invitations::AcceptedAt))
                    .col(uuid_null(Invitations::CreatedBy))
                    .col(ts(Invitations::CreatedAt))
                    .foreign_key(&mut org_fk(Invitations::Table))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MembershipSites::Table)
                    .if_not_exists()
                    .col(bigint_pk(MembershipSites::Id))
                    .col(uuid(MembershipSites::OrganizationId))
                    .col(uuid(MembershipSites::UserId))
                    .col(uuid(MembershipSites::SiteId))
                    .foreign_key(&mut org_fk(MembershipSites::Table))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WorkOrderNotes::Table)
                    .if_not_exists()
                    .col(bigint_pk(WorkOrderNotes::Id))
                    .col(uuid(WorkOrderNotes::OrganizationId))
                    .col(uuid(WorkOrderNotes::WorkOrderId))
                    // `assign`, `comment`, `resolve`.
                    .col(string(WorkOrderNotes::Kind))
                    .col(uuid_null(WorkOrderNotes::AuthorId))
                    .col(uuid_null(WorkOrderNotes::AssigneeId))
                    .col(text(WorkOrderNotes::Body))
                    .col(ts(WorkOrderNotes::CreatedAt))
                    .foreign_key(&mut org_fk(WorkOrderNotes::Table))
                    .take(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(
                    CounterReceipts::Table,
                    &["organization_id", "receipt_no"],
                    true,
                ),
                index(
                    CounterReceipts::Table,
                    &["organization_id", "idempotency_key"],
                    true,
                ),
                index(
                    CounterReceipts::Table,
                    &["organization_id", "account_id"],
                    false,
                ),
                index(
                    CounterReceipts::Table,
                    &["organization_id", "created_at"],
                    false,
                ),
                index(TenantOtps::Table, &["phone", "created_at"], false),
                index(Invitations::Table, &["token_hash"], true),
                index(
                    MembershipSites::Table,
                    &["organization_id", "user_id", "site_id"],
                    true,
                ),
                index(
                    WorkOrderNotes::Table,
                    &["organization_id", "work_order_id"],
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
                WorkOrderNotes::Table.into_iden(),
                MembershipSites::Table.into_iden(),
                Invitations::Table.into_iden(),
                TenantConsents::Table.into_iden(),
                TenantOtps::Table.into_iden(),
                ReceiptCounters::Table.into_iden(),
                CounterReceipts::Table.into_iden(),
            ],
        )
        .await
    }
}
