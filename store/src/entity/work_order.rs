//! The `work_orders` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::WorkOrderStatus;
use crate::ids::{AccountId, GatewayId, MeterId, OrgId, UserId, WorkOrderId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "work_orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: WorkOrderId,
    pub organization_id: OrgId,
    pub kind: String,
    pub status: WorkOrderStatus,
    pub title: String,
    pub detail: String,
    pub account_id: Option<AccountId>,
    pub meter_id: Option<MeterId>,
    pub gateway_id: Option<GatewayId>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
    /// The technician or operator following it up.
    pub assignee_id: Option<UserId>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
