//! Tenant sign-in by phone and one-time code, and the privacy-notice consent recorded at a
//! phone's first sign-in (PIPL).
//!
//! Rules kept here: only the SHA-256 of a code is stored; a code is used at most once (the
//! consuming `UPDATE` is conditional on `consumed_at IS NULL`, so two racing verifications
//! cannot both win); each wrong guess is counted on the code row, so the limit holds across
//! api processes. A phone is not organization-owned: one person may rent in two organizations.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};

use crate::StoreError;

/// The `tenant_otps` table.
pub mod otp {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "tenant_otps")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub phone: String,
        #[serde(skip_serializing)]
        pub code_hash: String,
        pub attempts: i32,
        pub expires_at: DateTimeUtc,
        pub consumed_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `tenant_consents` table.
pub mod consent {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "tenant_consents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub phone: String,
        pub notice_version: String,
        pub consented_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A stored one-time code.
pub type Otp = otp::Model;

/// Stores a new code for `phone` (its hash), valid until `expires_at`.
pub async fn create_otp(
    conn: &impl ConnectionTrait,
    phone: &str,
    code_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Otp, StoreError> {
    Ok(otp::ActiveModel {
        phone: Set(phone.to_owned()),
        code_hash: Set(code_hash.to_owned()),
        attempts: Set(0),
        expires_at: Set(expires_at),
        consumed_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// How many codes were sent to `phone` since `since` (send rate limit).
pub async fn sent_since(
    conn: &impl ConnectionTrait,
    phone: &str,
    since: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(otp::Entity::find()
        .filter(otp::Column::Phone.eq(phone))
        .filter(otp::Column::CreatedAt.gte(since))
        .count(conn)
        .await?)
}

/// The newest unused, unexpired code of `phone`.
pub async fn latest_active(
    conn: &impl ConnectionTrait,
    phone: &str,
    now: DateTime<Utc>,
) -> Result<Option<Otp>, StoreError> {
    Ok(otp::Entity::find()
        .filter(otp::Column::Phone.eq(phone))
        .filter(otp::Column::ConsumedAt.is_null())
        .filter(otp::Column::ExpiresAt.gt(now))
        .order_by_desc(otp::Column::Id)
        .one(conn)
        .await?)
}

/// Counts a wrong guess against a code.
pub async fn record_failed_attempt(conn: &impl ConnectionTrait, id: i64) -> Result<(), StoreError> {
    otp::Entity::update_many()
        .col_expr(
            otp::Column::Attempts,
            Expr::col(otp::Column::Attempts).add(1),
        )
        .filter(otp::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Uses a code up; `false` when it was already used (a racing verification won).
pub async fn consume(
    conn: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = otp::Entity::update_many()
        .col_expr(otp::Column::ConsumedAt, Expr::value(now))
        .filter(otp::Column::Id.eq(id))
        .filter(otp::Column::ConsumedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The consent a phone gave, if any.
pub async fn consent_of(
    conn: &impl ConnectionTrait,
    phone: &str,
) -> Result<Option<consent::Model>, StoreError> {
    Ok(consent::Entity::find_by_id(phone.to_owned())
        .one(conn)
        .await?)
}

/// Records consent to the privacy notice `version` (replacing an older one).
pub async fn record_consent(
    conn: &impl ConnectionTrait,
    phone: &str,
    version: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = consent::ActiveModel {
        phone: Set(phone.to_owned()),
        notice_version: Set(version.to_owned()),
        consented_at: Set(now),
    };
    if consent_of(conn, phone).await?.is_some() {
        row.update(conn).await?;
    } else {
        row.insert(conn).await?;
    }
    Ok(())
}
