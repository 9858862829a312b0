//! The `work_order_notes` table: a work order's history (assignments, comments, resolution).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{OrgId, UserId, WorkOrderId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "work_order_notes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub work_order_id: WorkOrderId,
    /// `assign`, `comment` or `resolve`.
    pub kind: String,
    pub author_id: Option<UserId>,
    pub assignee_id: Option<UserId>,
    pub body: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
