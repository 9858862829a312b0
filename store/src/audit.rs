//! The audit log: who did what to which row. Operators' forced trips, protections, reversals and
//! every administrative change are recorded here, in the transaction of the change.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::audit_log;
use crate::page::{fetch, Page, Paged};
use crate::{AuditEntry, OrgId, StoreError, UserId};

/// Records an action. `org` is `None` for platform-level actions; `actor` is `None` for the
/// system itself (worker, schedules).
pub async fn record(
    conn: &impl ConnectionTrait,
    org: Option<OrgId>,
    actor: Option<UserId>,
    action: &str,
    target_type: &str,
    target_id: &str,
    detail: serde_json::Value,
) -> Result<AuditEntry, StoreError> {
    Ok(audit_log::ActiveModel {
        organization_id: Set(org),
        actor_user_id: Set(actor),
        action: Set(action.to_owned()),
        target_type: Set(target_type.to_owned()),
        target_id: Set(target_id.to_owned()),
        detail: Set(detail.to_string()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// The organization's audit entries, newest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    org: OrgId,
    page: Page,
) -> Result<Paged<AuditEntry>, StoreError> {
    let select = audit_log::Entity::find()
        .filter(audit_log::Column::OrganizationId.eq(org))
        .order_by_desc(audit_log::Column::Id);
    fetch(conn, select, page).await
}
