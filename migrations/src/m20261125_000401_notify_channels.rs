//! How each person is reached: their language, an email address, the WeChat official-account
//! openid they bound, and the channels they want per kind of notification (a JSON object,
//! `{"low_balance": ["wechat", "sms"], ...}`). All nullable: unset means the defaults.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string_null, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TenantPreferences {
    Table,
    Language,
    Email,
    WechatOpenid,
    Channels,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for col in [
            string_null(TenantPreferences::Language),
            string_null(TenantPreferences::Email),
            string_null(TenantPreferences::WechatOpenid),
            text_null(TenantPreferences::Channels),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(TenantPreferences::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            TenantPreferences::Language,
            TenantPreferences::Email,
            TenantPreferences::WechatOpenid,
            TenantPreferences::Channels,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(TenantPreferences::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
