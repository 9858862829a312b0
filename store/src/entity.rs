//! sea-orm entities, one module per table, and the closed string enums some columns hold.
//!
//! Money columns are integer fen (`*_fen`), energy integer Wh (`*_wh`); decimal values with more
//! places are strings. Convert through the accessors on the models (e.g.
//! [`account::Model::balance`]), which is the one place fen becomes [`domain::Money`].

pub mod account;
pub mod audit_log;
pub mod balance_freeze;
pub mod building;
pub mod command;
pub mod control_setting;
pub mod control_state;
pub mod gateway;
pub mod invitation;
pub mod job_lease;
pub mod ledger_entry;
pub mod membership;
pub mod membership_site;
pub mod meter;
pub mod notification;
pub mod organization;
pub mod outbox;
pub mod password_reset;
pub mod rating_state;
pub mod reading;
pub mod refresh_token;
pub mod site;
pub mod tariff;
pub mod tariff_version;
pub mod tenant;
pub mod unit;
pub mod usage_period;
pub mod user;
pub mod work_order;
pub mod work_order_note;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// What a unit is rented as.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    #[sea_orm(string_value = "flat")]
    Flat,
    #[sea_orm(string_value = "shop")]
    Shop,
}

/// Whether an account still takes top-ups and charges.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    #[sea_orm(string_value = "open")]
    Open,
    #[sea_orm(string_value = "closed")]
    Closed,
}

/// Why a ledger entry changed a balance.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    #[sea_orm(string_value = "opening")]
    Opening,
    #[sea_orm(string_value = "topup")]
    Topup,
    #[sea_orm(string_value = "charge")]
    Charge,
    #[sea_orm(string_value = "adjustment")]
    Adjustment,
    #[sea_orm(string_value = "refund")]
    Refund,
    #[sea_orm(string_value = "reversal")]
    Reversal,
    #[sea_orm(string_value = "closing")]
    Closing,
}

/// Where a meter command is in its life.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    #[sea_orm(string_value = "queued")]
    Queued,
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "acked")]
    Acked,
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "expired")]
    Expired,
}

/// Where a work order is in its life.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum WorkOrderStatus {
    #[sea_orm(string_value = "open")]
    Open,
    #[sea_orm(string_value = "in_progress")]
    InProgress,
    #[sea_orm(string_value = "resolved")]
    Resolved,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}
