//! Users managed by organization admins: a membership can be disabled and limited to some sites
//! (the `membership_sites` and `invitations` tables come from the api migration); password
//! resets are single-use tokens (only their SHA-256 is stored).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, string, uuid};

use crate::columns::{create_indexes, drop_tables, fk, index, org_fk, ts, ts_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Disabled,
    SiteLimited,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
}

#[derive(DeriveIden)]
enum PasswordResets {
    Table,
    Id,
    UserId,
    OrganizationId,
    TokenHash,
    IssuedBy,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .add_column(boolean(Memberships::Disabled).default(false))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .add_column(boolean(Memberships::SiteLimited).default(false))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PasswordResets::Table)
                    .if_not_exists()
                    .col(uuid_pk(PasswordResets::Id))
                    .col(uuid(PasswordResets::UserId))
                    .col(uuid(PasswordResets::OrganizationId))
                    .col(string(PasswordResets::TokenHash))
                    .col(uuid(PasswordResets::IssuedBy))
                    .col(ts(PasswordResets::ExpiresAt))
                    .col(ts_null(PasswordResets::UsedAt))
                    .col(ts(PasswordResets::CreatedAt))
                    .foreign_key(&mut org_fk(PasswordResets::Table))
                    .foreign_key(&mut fk(
                        PasswordResets::Table,
                        PasswordResets::UserId,
                        Alias::new("users"),
                        Alias::new("id"),
                    ))
                    .take(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(Invitations::Table, &["organization_id", "email"], false),
                index(PasswordResets::Table, &["token_hash"], true),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![PasswordResets::Table.into_iden()]).await?;
        for col in [Memberships::SiteLimited, Memberships::Disabled] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Memberships::Table)
                        .drop_column(col)
                        .take(),
                )
                .await?;
        }
        Ok(())
    }
}
