//! The `accounts` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::AccountStatus;
use crate::ids::{AccountId, OrgId, TariffId, TenantId, UnitId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: AccountId,
    pub organization_id: OrgId,
    pub unit_id: UnitId,
    pub tenant_id: Option<TenantId>,
    /// Globally unique, printed on the door QR code.
    pub account_no: String,
    /// The running balance, changed only together with a ledger entry.
    pub balance_fen: i64,
    pub status: AccountStatus,
    pub alarm_threshold_fen: Option<i64>,
    pub trip_threshold_fen: Option<i64>,
    pub protected: bool,
    pub protect_reason: Option<String>,
    /// The charge-control state name (`normal`, `alarmed`, ...).
    pub cc_state: String,
    pub tariff_id: Option<TariffId>,
    pub opened_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
