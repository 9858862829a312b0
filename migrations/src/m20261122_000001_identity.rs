//! Organizations (the tenancy boundary), users, memberships with roles, refresh tokens.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, string, text, uuid};

use crate::columns::{create_indexes, drop_tables, fk, index, ts, ts_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Organizations {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    Name,
    PlatformAdmin,
    Disabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    UserId,
    OrganizationId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    OrganizationId,
    Family,
    TokenHash,
    ExpiresAt,
    RevokedAt,
    ReplacedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .if_not_exists()
                    .col(uuid_pk(Organizations::Id))
                    .col(string(Organizations::Name))
                    .col(ts(Organizations::CreatedAt))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(uuid_pk(Users::Id))
                    // Stored lowercase by the store so the unique index is case-insensitive.
                    .col(string(Users::Email))
                    .col(text(Users::PasswordHash))
                    .col(string(Users::Name))
                    .col(boolean(Users::PlatformAdmin).default(false))
                    .col(boolean(Users::Disabled).default(false))
                    .col(ts(Users::CreatedAt))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .if_not_exists()
                    .col(uuid(Memberships::UserId))
                    .col(uuid(Memberships::OrganizationId))
                    .col(string(Memberships::Role))
                    .col(ts(Memberships::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(Memberships::UserId)
                            .col(Memberships::OrganizationId),
                    )
                    .foreign_key(&mut fk(
                        Memberships::Table,
                        Memberships::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .foreign_key(&mut fk(
                        Memberships::Table,
                        Memberships::OrganizationId,
                        Organizations::Table,
                        Organizations::Id,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    .col(uuid_pk(RefreshTokens::Id))
                    .col(uuid(RefreshTokens::UserId))
                    .col(uuid(RefreshTokens::OrganizationId))
                    .col(uuid(RefreshTokens::Family))
                    .col(string(RefreshTokens::TokenHash))
                    .col(ts(RefreshTokens::ExpiresAt))
                    .col(ts_null(RefreshTokens::RevokedAt))
                    .col(ColumnDef::new(RefreshTokens::ReplacedBy).uuid().null())
                    .col(ts(RefreshTokens::CreatedAt))
                    .foreign_key(&mut fk(
                        RefreshTokens::Table,
                        RefreshTokens::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .foreign_key(&mut fk(
                        RefreshTokens::Table,
                        RefreshTokens::OrganizationId,
                        Organizations::Table,
                        Organizations::Id,
                    ))
                    .take(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(Users::Table, &["email"], true),
                index(Memberships::Table, &["organization_id", "user_id"], false),
                index(RefreshTokens::Table, &["token_hash"], true),
                index(RefreshTokens::Table, &["family"], false),
                index(RefreshTokens::Table, &["organization_id", "user_id"], false),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                RefreshTokens::Table.into_iden(),
                Memberships::Table.into_iden(),
                Users::Table.into_iden(),
                Organizations::Table.into_iden(),
            ],
        )
        .await
    }
}
