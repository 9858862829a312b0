//! Tenants' notification preferences, per phone (the person, across organizations). A phone
//! without a row has the defaults: every notification on.
//!
//! Two halves: [`Preferences`] (which kinds of notification, what the tenant sets on their
//! page) and [`Delivery`] (how: language, email address, bound WeChat openid, channels per
//! kind). Setting one half never changes the other.

use std::collections::BTreeMap;

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
        pub language: Option<String>,
        pub email: Option<String>,
        pub wechat_openid: Option<String>,
        /// JSON: `{"low_balance": ["sms"], ...}`.
        pub channels: Option<String>,
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
        ..Default::default()
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

/// How a person is reached. Unset fields mean the deployment's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `zh`, `en` or `zh-en`.
    pub language: Option<String>,
    pub email: Option<String>,
    /// The openid of the person on the deployment's WeChat official account.
    pub wechat_openid: Option<String>,
    /// Channels (`sms`, `email`, `wechat`) per kind (`low_balance`, `power_events`,
    /// `payment_receipts`); a kind not listed uses the default channels.
    pub channels: BTreeMap<String, Vec<String>>,
}

/// The kinds a tenant switches and routes: low-balance warnings and reminders, power events,
/// payment receipts.
pub const KINDS: [&str; 3] = ["low_balance", "power_events", "payment_receipts"];
/// The channels a notification can take.
pub const CHANNELS: [&str; 3] = ["sms", "email", "wechat"];
/// The languages of messages: Chinese, English, both (Chinese first).
pub const LANGUAGES: [&str; 3] = ["zh", "en", "zh-en"];

impl Delivery {
    /// Answers what is wrong with these settings, if anything: an unknown language, kind or
    /// channel, or an email address that cannot be one.
    pub fn check(&self) -> Result<(), String> {
        if let Some(l) = &self.language {
            if !LANGUAGES.contains(&l.as_str()) {
                return Err(format!("language must be one of {LANGUAGES:?} (got {l:?})"));
            }
        }
        if let Some(e) = &self.email {
            let plausible = e.len() <= 254
                && !e.chars().any(char::is_whitespace)
                && e.split_once('@')
                    .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
            if !plausible {
                return Err(format!("email {e:?} is not an email address"));
            }
        }
        for (kind, channels) in &self.channels {
            if !KINDS.contains(&kind.as_str()) {
                return Err(format!(
                    "channels: kind must be one of {KINDS:?} (got {kind:?})"
                ));
            }
            if let Some(c) = channels.iter().find(|c| !CHANNELS.contains(&c.as_str())) {
                return Err(format!(
                    "channels: channel must be one of {CHANNELS:?} (got {c:?})"
                ));
            }
        }
        Ok(())
    }
}

/// How `phone` is reached (defaults when never set).
pub async fn delivery(conn: &impl ConnectionTrait, phone: &str) -> Result<Delivery, StoreError> {
    let Some(m) = entity::Entity::find_by_id(phone.to_owned())
        .one(conn)
        .await?
    else {
        return Ok(Delivery::default());
    };
    let channels = match m.channels.as_deref() {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| StoreError::Invalid(format!("channels of a tenant: {e}")))?,
        None => BTreeMap::new(),
    };
    Ok(Delivery {
        language: m.language,
        email: m.email,
        wechat_openid: m.wechat_openid,
        channels,
    })
}

/// Replaces how `phone` is reached; the kinds of notification stay as they were.
pub async fn set_delivery(
    conn: &impl ConnectionTrait,
    phone: &str,
    d: &Delivery,
) -> Result<(), StoreError> {
    let defaults = Preferences::default();
    let channels = if d.channels.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&d.channels).map_err(|e| StoreError::Invalid(e.to_string()))?)
    };
    let row = entity::ActiveModel {
        phone: Set(phone.to_owned()),
        low_balance: Set(defaults.low_balance),
        power_events: Set(defaults.power_events),
        payment_receipts: Set(defaults.payment_receipts),
        updated_at: Set(Utc::now()),
        language: Set(d.language.clone()),
        email: Set(d.email.clone()),
        wechat_openid: Set(d.wechat_openid.clone()),
        channels: Set(channels),
    };
    entity::Entity::insert(row)
        .on_conflict(
            OnConflict::column(entity::Column::Phone)
                .update_columns([
                    entity::Column::Language,
                    entity::Column::Email,
                    entity::Column::WechatOpenid,
                    entity::Column::Channels,
                    entity::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Binds `phone` to its WeChat openid (learnt by the official account's web authorisation),
/// keeping everything else.
pub async fn bind_wechat(
    conn: &impl ConnectionTrait,
    phone: &str,
    openid: &str,
) -> Result<(), StoreError> {
    let mut d = delivery(conn, phone).await?;
    d.wechat_openid = Some(openid.to_owned());
    set_delivery(conn, phone, &d).await
}
