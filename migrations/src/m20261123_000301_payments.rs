//! Payments: merchant accounts (secrets encrypted by the application), payment orders with a
//! globally unique `out_trade_no`, every verified provider notification with its raw body,
//! per-organization payment limits, refunds and imported reconciliation bills.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, boolean, integer, string, string_null, text, text_null, uuid, uuid_null,
};

use crate::columns::{
    bigint_pk, create_indexes, drop_tables, fk, index, org_fk, ts, ts_null, uuid_pk,
};
use crate::m20261122_000002_property::{Accounts, Sites};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
    OrganizationId,
    Name,
    Provider,
    /// Public configuration as JSON (ids, platform public keys).
    Config,
    /// AES-256-GCM sealed JSON of the secrets (keys), `nonce || ciphertext` in base64.
    SecretsSealed,
    DefaultForOrg,
    DefaultSiteId,
    Enabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PaymentOrders {
    Table,
    Id,
    OrganizationId,
    AccountId,
    MerchantId,
    Provider,
    Channel,
    OutTradeNo,
    AmountFen,
    Status,
    ProviderTxnId,
    Openid,
    Pay,
    ExpiresAt,
    PaidAt,
    NextPollAt,
    PollAttempts,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PaymentNotifications {
    Table,
    Id,
    OrganizationId,
    MerchantId,
    Provider,
    OrderId,
    OutTradeNo,
    ProviderTxnId,
    EventType,
    RawBody,
    Headers,
    Verified,
    Outcome,
    Detail,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum PaymentSettings {
    Table,
    OrganizationId,
    MinAmountFen,
    MaxAmountFen,
    MaxPendingPerAccount,
    RefundApprovalAboveFen,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Id,
    OrganizationId,
    AccountId,
    OrderId,
    MerchantId,
    OutRefundNo,
    AmountFen,
    Reason,
    Status,
    RequestedBy,
    ApprovedBy,
    ProviderRefundId,
    HoldEntryKey,
    Detail,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ReconciliationLines {
    Table,
    Id,
    OrganizationId,
    MerchantId,
    BillDate,
    OutTradeNo,
    ProviderTxnId,
    AmountFen,
    Outcome,
    Detail,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Merchants::Table)
                    .if_not_exists()
                    .col(uuid_pk(Merchants::Id))
                    .col(uuid(Merchants::OrganizationId))
                    .col(string(Merchants::Name))
                    .col(string(Merchants::Provider))
                    .col(text(Merchants::Config))
                    .col(text(Merchants::SecretsSealed))
                    .col(boolean(Merchants::DefaultForOrg).default(false))
                    .col(uuid_null(Merchants::DefaultSiteId))
                    .col(boolean(Merchants::Enabled).default(true))
                    .col(ts(Merchants::CreatedAt))
                    .foreign_key(&mut org_fk(Merchants::Table))
                    .foreign_key(&mut fk(
                        Merchants::Table,
                        Merchants::DefaultSiteId,
                        Sites::Table,
                        Sites::Id,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PaymentOrders::Table)
                    .if_not_exists()
                    .col(uuid_pk(PaymentOrders::Id))
                    .col(uuid(PaymentOrders::OrganizationId))
                    .col(uuid(PaymentOrders::AccountId))
                    .col(uuid(PaymentOrders::MerchantId))
                    .col(string(PaymentOrders::Provider))
                    .col(string(PaymentOrders::Channel))
                    .col(string(PaymentOrders::OutTradeNo))
                    .col(big_integer(PaymentOrders::AmountFen))
                    .col(string(PaymentOrders::Status).default("pending"))
                    .col(string_null(PaymentOrders::ProviderTxnId))
                    .col(string_null(PaymentOrders::Openid))
                    .col(text(PaymentOrders::Pay).default("{}"))
                    .col(ts(PaymentOrders::ExpiresAt))
                    .col(ts_null(PaymentOrders::PaidAt))
                    .col(ts_null(PaymentOrders::NextPollAt))
                    .col(integer(PaymentOrders::PollAttempts).default(0))
                    .col(ts(PaymentOrders::CreatedAt))
                    .col(ts(PaymentOrders::UpdatedAt))
                    .foreign_key(&mut org_fk(PaymentOrders::Table))
                    .foreign_key(&mut fk(
                        PaymentOrders::Table,
                        PaymentOrders::AccountId,
                        Accounts::Table,
                        Accounts::Id,
                    ))
                    .foreign_key(&mut fk(
                        PaymentOrders::Table,
                        PaymentOrders::MerchantId,
                        Merchants::Table,
                        Merchants::Id,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PaymentNotifications::Table)
                    .if_not_exists()
                    .col(bigint_pk(PaymentNotifications::Id))
                    .col(uuid_null(PaymentNotifications::OrganizationId))
                    .col(uuid_null(PaymentNotifications::MerchantId))
                    .col(string(PaymentNotifications::Provider))
                    .col(uuid_null(PaymentNotifications::OrderId))
                    .col(string_null(PaymentNotifications::OutTradeNo))
                    .col(string_null(PaymentNotifications::ProviderTxnId))
                    .col(string(PaymentNotifications::EventType))
                    .col(text(PaymentNotifications::RawBody))
                    .col(text(PaymentNotifications::Headers))
                    .col(boolean(PaymentNotifications::Verified))
                    .col(string(PaymentNotifications::Outcome))
                    .col(text_null(PaymentNotifications::Detail))
                    .col(ts(PaymentNotifications::ReceivedAt))
                    .foreign_key(&mut org_fk(PaymentNotifications::Table))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PaymentSettings::Table)
                    .if_not_exists()
                    .col(uuid(PaymentSettings::OrganizationId).primary_key())
                    .col(big_integer(PaymentSettings::MinAmountFen))
                    .col(big_integer(PaymentSettings::MaxAmountFen))
                    .col(integer(PaymentSettings::MaxPendingPerAccount))
                    .col(big_integer(PaymentSettings::RefundApprovalAboveFen))
                    .col(ts(PaymentSettings::UpdatedAt))
                    .foreign_key(&mut org_fk(PaymentSettings::Table))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Refunds::Table)
                    .if_not_exists()
                    .col(uuid_pk(Refunds::Id))
                    .col(uuid(Refunds::OrganizationId))
                    .col(uuid(Refunds::AccountId))
                    .col(uuid(Refunds::OrderId))
                    .col(uuid(Refunds::MerchantId))
                    .col(string(Refunds::OutRefundNo))
                    .col(big_integer(Refunds::AmountFen))
                    .col(string(Refunds::Reason))
                    .col(string(Refunds::Status))
                    .col(uuid_null(Refunds::RequestedBy))
                    .col(uuid_null(Refunds::ApprovedBy))
                    .col(string_null(Refunds::ProviderRefundId))
                    .col(string(Refunds::HoldEntryKey))
                    .col(text_null(Refunds::Detail))
                    .col(ts(Refunds::CreatedAt))
                    .col(ts(Refunds::UpdatedAt))
                    .foreign_key(&mut org_fk(Refunds::Table))
                    .foreign_key(&mut fk(
                        Refunds::Table,
                        Refunds::OrderId,
                        PaymentOrders::Table,
                        PaymentOrders::Id,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReconciliationLines::Table)
                    .if_not_exists()
                    .col(bigint_pk(ReconciliationLines::Id))
                    .col(uuid(ReconciliationLines::OrganizationId))
                    .col(uuid(ReconciliationLines::MerchantId))
                    .col(string(ReconciliationLines::BillDate))
                    .col(string(ReconciliationLines::OutTradeNo))
                    .col(string(ReconciliationLines::ProviderTxnId))
                    .col(big_integer(ReconciliationLines::AmountFen))
                    .col(string(ReconciliationLines::Outcome))
                    .col(text_null(ReconciliationLines::Detail))
                    .col(ts(ReconciliationLines::CreatedAt))
                    .foreign_key(&mut org_fk(ReconciliationLines::Table))
                    .take(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(Merchants::Table, &["organization_id", "provider"], false),
                index(PaymentOrders::Table, &["out_trade_no"], true),
                index(
                    PaymentOrders::Table,
                    &["organization_id", "account_id", "status"],
                    false,
                ),
                // The polling job: pending orders whose next poll is due.
                index(PaymentOrders::Table, &["status", "next_poll_at"], false),
                index(
                    PaymentNotifications::Table,
                    &["organization_id", "order_id"],
                    false,
                ),
                index(Refunds::Table, &["out_refund_no"], true),
                index(Refunds::Table, &["organization_id", "status"], false),
                // Importing the same bill twice matches each line once.
                index(
                    ReconciliationLines::Table,
                    &["merchant_id", "provider_txn_id"],
                    true,
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                ReconciliationLines::Table.into_iden(),
                Refunds::Table.into_iden(),
                PaymentSettings::Table.into_iden(),
                PaymentNotifications::Table.into_iden(),
                PaymentOrders::Table.into_iden(),
                Merchants::Table.into_iden(),
            ],
        )
        .await
    }
}
