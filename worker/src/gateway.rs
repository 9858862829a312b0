//! Gateway statuses: the retained `up/status` (also the agent's last will) says whether a
//! gateway is online and which config version it runs. Offline opens one work order (closed on
//! recovery) and holds the gateway's commands; back online sends what was held.

use chrono::{DateTime, Utc};
use protocol::GatewayStatus;
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use store::entity::{command, gateway};
use store::work_order::NewWorkOrder;
use store::{CommandState, StoreError};

use crate::Worker;

impl Worker {
    /// Records a gateway's status and follows up.
    pub async fn handle_status(
        &self,
        status: &GatewayStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let wire = status.gateway.as_str();
        let Some(gw) = self.gateway_entry(wire, now, false).await? else {
            tracing::warn!(gateway = wire, "status of an unknown gateway");
            return Ok(());
        };
        let update = Query::update()
            .table(gateway::Entity)
            .value(Alias::new("online"), status.online)
            .value(Alias::new("last_seen_at"), now)
            .value(
                Alias::new("reported_config_version"),
                status.config_version.and_then(|v| i64::try_from(v).ok()),
            )
            .value(Alias::new("config_error"), status.config_error.clone())
            .and_where(Expr::col(Alias::new("id")).eq(gw.id))
            .and_where(Expr::col(Alias::new("organization_id")).eq(gw.org))
            .to_owned();
        let db = self.db();
        db.execute(db.get_database_backend().build(&update)).await?;
        let key = format!("gateway_offline:{}", gw.id);
        if status.online {
            if store::work_order::resolve_by_key(db, gw.org, &key, now).await? {
                tracing::info!(gateway = wire, "gateway back online");
            }
            // Send what was held while it was away.
            let meters: Vec<_> = gw.meters.values().copied().collect();
            let held = command::Entity::find()
                .filter(command::Column::OrganizationId.eq(gw.org))
                .filter(command::Column::MeterId.is_in(meters))
                .filter(command::Column::State.is_in([CommandState::Queued, CommandState::Sent]))
                .all(db)
                .await?;
            for c in held {
                if let Err(e) = self.send_command(&c, now).await {
                    tracing::warn!(error = %e, "resending a held command");
                }
            }
        } else {
            store::work_order::open_once(
                db,
                gw.org,
                NewWorkOrder {
                    kind: "gateway_offline".into(),
                    title: format!("网关离线 Gateway offline: {wire}"),
                    detail: format!(
                        "Gateway {wire} reported offline at {}.",
                        status.ts.to_rfc3339()
                    ),
                    account_id: None,
                    meter_id: None,
                    gateway_id: Some(gw.id),
                    dedup_key: key,
                },
                now,
            )
            .await?;
        }
        Ok(())
    }
}
