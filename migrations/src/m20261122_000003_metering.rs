//! Tariff versions, gateways, meters, readings, per-meter rating state and meter commands.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean, integer, string, string_null, text, text_null, uuid,
    uuid_null,
};

use crate::columns::{
    bigint_pk, create_indexes, drop_tables, fk, index, org_fk, ts, ts_null, uuid_pk,
};
use crate::m20261122_000002_property::{Sites, Tariffs, Units};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TariffVersions {
    Table,
    Id,
    OrganizationId,
    TariffId,
    EffectiveFrom,
    Definition,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Gateways {
    Table,
    Id,
    OrganizationId,
    SiteId,
    GatewayId,
    Name,
    MqttPasswordHash,
    ConfigVersion,
    LastSeenAt,
    Online,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Meters {
    Table,
    Id,
    OrganizationId,
    GatewayId,
    UnitId,
    Bus,
    Slave,
    WireId,
    Model,
    RegisterMap,
    CtRatio,
    MaxPowerKw,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Readings {
    Table,
    Id,
    OrganizationId,
    MeterId,
    Ts,
    EnergyWh,
    TouSharpWh,
    TouPeakWh,
    TouFlatWh,
    TouValleyWh,
    VoltageV,
    CurrentA,
    PowerKw,
    Relay,
    Error,
    GatewayBatch,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum RatingStates {
    Table,
    MeterId,
    OrganizationId,
    State,
    LastTs,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Commands {
    Table,
    Id,
    OrganizationId,
    MeterId,
    Seq,
    Action,
    State,
    Attempts,
    IssuedAt,
    ExpiresAt,
    SentAt,
    AckedAt,
    Relay,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TariffVersions::Table)
                    .if_not_exists()
                    .col(uuid_pk(TariffVersions::Id))
                    .col(uuid(TariffVersions::OrganizationId))
                    .col(uuid(TariffVersions::TariffId))
                    .col(ts(TariffVersions::EffectiveFrom))
                    // The domain tariff definition as JSON text (portable across backends).
                    .col(text(TariffVersions::Definition))
                    .col(ts(TariffVersions::CreatedAt))
                    .foreign_key(&mut org_fk(TariffVersions::Table))
                    .foreign_key(&mut fk(
                        TariffVersions::Table,
                        TariffVersions::TariffId,
                        Tariffs::Table,
                        Tariffs::Id,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Gateways::Table)
                    .if_not_exists()
                    .col(uuid_pk(Gateways::Id))
                    .col(uuid(Gateways::OrganizationId))
                    .col(uuid(Gateways::SiteId))
                    // The platform-assigned wire id `gw-...`, unique across organizations.
                    .col(string(Gateways::GatewayId))
                    .col(string(Gateways::Name))
                    .col(text_null(Gateways::MqttPasswordHash))
                    .col(big_integer(Gateways::ConfigVersion).default(0))
                    .col(ts_null(Gateways::LastSeenAt))
                    .col(boolean(Gateways::Online).default(false))
                    .col(ts(Gateways::CreatedAt))
                    .foreign_key(&mut org_fk(Gateways::Table))
                    .foreign_key(&mut fk(
                        Gateways::Table,
                        Gateways::SiteId,
                        Sites::Table,
                        Sites::Id,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Meters::Table)
                    .if_not_exists()
                    .col(uuid_pk(Meters::Id))
                    .col(uuid(Meters::OrganizationId))
                    .col(uuid(Meters::GatewayId))
                    .col(uuid_null(Meters::UnitId))
                    .col(string(Meters::Bus))
                    .col(integer(Meters::Slave))
                    .col(string(Meters::WireId))
                    .col(string_null(Meters::Model))
                    .col(text_null(Meters::RegisterMap))
                    // Decimal strings: SQLite has no exact decimal type.
                    .col(string(Meters::CtRatio).default("1"))
                    .col(string(Meters::MaxPowerKw))
                    .col(ts(Meters::CreatedAt))
                    .foreign_key(&mut org_fk(Meters::Table))
                    .foreign_key(&mut fk(
                        Meters::Table,
                        Meters::GatewayId,
                        Gateways::Table,
                        Gateways::Id,
                    ))
                    .foreign_key(&mut fk(
                        Meters::Table,
                        Meters::UnitId,
                        Units::Table,
                        Units::Id,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Readings::Table)
                    .if_not_exists()
                    .col(bigint_pk(Readings::Id))
                    .col(uuid(Readings::OrganizationId))
                    .col(uuid(Readings::MeterId))
                    .col(ts(Readings::Ts))
                    .col(big_integer_null(Readings::EnergyWh))
                    .col(big_integer_null(Readings::TouSharpWh))
                    .col(big_integer_null(Readings::TouPeakWh))
                    .col(big_integer_null(Readings::TouFlatWh))
                    .col(big_integer_null(Readings::TouValleyWh))
                    .col(string_null(Readings::VoltageV))
                    .col(string_null(Readings::CurrentA))
                    .col(string_null(Readings::PowerKw))
                    .col(string_null(Readings::Relay))
                    .col(string_null(Readings::Error))
                    .col(big_integer_null(Readings::GatewayBatch))
                    .col(ts(Readings::ReceivedAt))
                    .foreign_key(&mut org_fk(Readings::Table))
                    .foreign_key(&mut fk(
                        Readings::Table,
                        Readings::MeterId,
                        Meters::Table,
                        Meters::Id,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RatingStates::Table)
                    .if_not_exists()
                    .col(uuid_pk(RatingStates::MeterId))
                    .col(uuid(RatingStates::OrganizationId))
                    .col(text(RatingStates::State))
                    .col(ts_null(RatingStates::LastTs))
                    .col(ts(RatingStates::UpdatedAt))
                    .foreign_key(&mut org_fk(RatingStates::Table))
                    .foreign_key(&mut fk(
                        RatingStates::Table,
                        RatingStates::MeterId,
                        Meters::Table,
                        Meters::Id,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Commands::Table)
                    .if_not_exists()
                    .col(uuid_pk(Commands::Id))
                    .col(uuid(Commands::OrganizationId))
                    .col(uuid(Commands::MeterId))
                    .col(big_integer(Commands::Seq))
                    .col(string(Commands::Action))
                    .col(string(Commands::State).default("queued"))
                    .col(integer(Commands::Attempts).default(0))
                    .col(ts(Commands::IssuedAt))
                    .col(ts(Commands::ExpiresAt))
                    .col(ts_null(Commands::SentAt))
                    .col(ts_null(Commands::AckedAt))
                    .col(string_null(Commands::Relay))
                    .col(text_null(Commands::Detail))
                    .foreign_key(&mut org_fk(Commands::Table))
                    .foreign_key(&mut fk(
                        Commands::Table,
                        Commands::MeterId,
                        Meters::Table,
                        Meters::Id,
                    ))
                    .take(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(
                    TariffVersions::Table,
                    &["tariff_id", "effective_from"],
                    true,
                ),
                index(
                    TariffVersions::Table,
                    &["organization_id", "tariff_id"],
                    false,
                ),
                index(Gateways::Table, &["gateway_id"], true),
                index(Gateways::Table, &["organization_id", "site_id"], false),
                index(Meters::Table, &["gateway_id", "wire_id"], true),
                index(Meters::Table, &["organization_id", "gateway_id"], false),
                index(Meters::Table, &["organization_id", "unit_id"], false),
                index(Readings::Table, &["meter_id", "ts"], true),
                index(
                    Readings::Table,
                    &["organization_id", "meter_id", "ts"],
                    false,
                ),
                index(RatingStates::Table, &["organization_id"], false),
                index(Commands::Table, &["meter_id", "seq"], true),
                index(
                    Commands::Table,
                    &["organization_id", "meter_id", "seq"],
                    false,
                ),
                // The worker's retry/expiry sweep looks for open commands across organizations.
                index(Commands::Table, &["state", "expires_at"], false),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                Commands::Table.into_iden(),
                RatingStates::Table.into_iden(),
                Readings::Table.into_iden(),
                Meters::Table.into_iden(),
                Gateways::Table.into_iden(),
                TariffVersions::Table.into_iden(),
            ],
        )
        .await
    }
}
