//! Tenants' notification preferences, per phone (the person, across organizations). A phone
//! without a row has the defaults: every notification on.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The `tenant_preferences` table.
pub mod entity {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "tenant_preferences")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub phone: String,
        pub low_balance: bool,
        pub power_events: bool,
        pub payment_receipts: bool,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What a tenant wants to be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    /// Low-balance warnings.
    pub low_balance: bool,
    /// Power cut and restored.
    pub power_events: bool,
    /// A receipt for each payment.
    pub payment_receipts: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            low_balance: true,
            power_events: true,
            payment_receipts: true,
        }
    }
}

/// The preferences of `phone` (defaults when never set).
pub async fn get(conn: &impl ConnectionTrait, phone: &str) -> Result<Preferences, StoreError> {
    Ok(entity::Entity::find_by_id(phone.to_owned())
        .one(conn)
        .await?
        .map_or_else(Preferences::default, |m| Preferences {
            low_balance: m.low_balance,
            power_events: m.power_events,
            payment_receipts: m.payment_receipts,
        }))
}

/// Replaces the preferences of `phone`.
pub async fn set(
    conn: &impl ConnectionTrait,
    phone: &str,
    p: Preferences,
) -> Result<Preferences, StoreError> {
    let row = entity::ActiveModel {
        phone: Set(phone.to_owned()),
        low_balance: Set(p.low_balance),
        power_events: Set(p.power_events),
        payment_receipts: Set(p.payment_receipts),
        updated_at: Set(Utc::now()),
    };
    entity::Entity::insert(row)
        .on_conflict(
            OnConflict::column(entity::Column::Phone)
                .update_columns([
                    entity::Column::LowBalance,
                    entity::Column::PowerEvents,
                    entity::Column::PaymentReceipts,
                    entity::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(p)
}
