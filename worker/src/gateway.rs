//! Gateway statuses: the retained `up/status` (also the agent's last will) says whether a
//! gateway is online and which config version it runs. Offline opens one work order (closed on
//! recovery) and holds the gateway's commands; back online sends what was held.

use chrono::{DateTime, Utc};
use protocol::GatewayStatus;
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use store::entity::{command, gateway, meter};
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

impl Worker {
    /// Publishes the gateway's `GatewayConfig` (retained, next version) built from its meters
    /// and stored bus settings. A gateway without bus settings is left alone: a config without
    /// transports would only make the agent report an error. Answers the published version.
    pub async fn publish_gateway_config(
        &self,
        org: store::OrgId,
        gateway_id: store::GatewayId,
    ) -> anyhow::Result<Option<u64>> {
        let db = self.db();
        let gw = store::gateway::get(db, org, gateway_id).await?;
        let state = store::gateway_config::get(db, org, gateway_id).await?;
        let Some(buses) = state
            .bus_settings
            .as_deref()
            .map(serde_json::from_str::<serde_json::Map<String, serde_json::Value>>)
            .transpose()?
        else {
            tracing::warn!(
                gateway = gw.gateway_id,
                "no bus settings: config not published"
            );
            return Ok(None);
        };
        let meters = meter::Entity::find()
            .filter(meter::Column::OrganizationId.eq(org))
            .filter(meter::Column::GatewayId.eq(gateway_id))
            .all(db)
            .await?;
        // Replaced meters stay in the database for their history, not on the bus.
        let ids: Vec<_> = meters.iter().map(|m| m.id).collect();
        let retired = store::meter_retirement::retired_among(db, org, &ids).await?;
        let meters: Vec<_> = meters
            .into_iter()
            .filter(|m| !retired.contains(&m.id))
            .collect();
        let mut bus_list = Vec::new();
        for (name, settings) in &buses {
            let mut bus = settings.as_object().cloned().unwrap_or_default();
            bus.insert("name".into(), name.clone().into());
            let mut on_bus: Vec<_> = meters.iter().filter(|m| &m.bus == name).collect();
            on_bus.sort_by_key(|m| m.slave);
            let list: Vec<serde_json::Value> = on_bus
                .iter()
                .map(|m| {
                    let mut meter = serde_json::json!({"id": m.wire_id, "slave": m.slave});
                    if let Some(model) = &m.model {
                        meter["model"] = model.clone().into();
                    }
                    if let Some(map) = m
                        .register_map
                        .as_deref()
                        .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
                    {
                        meter["registers"] = map;
                    }
                    meter
                })
                .collect();
            bus.insert("meter".into(), list.into());
            bus_list.push(serde_json::Value::Object(bus));
        }
        let version = store::gateway_config::next_version(db, org, gateway_id).await?;
        let config: protocol::GatewayConfig = serde_json::from_value(serde_json::json!({
            "v": 1,
            "gateway": gw.gateway_id,
            "version": version,
            "bus": bus_list,
        }))?;
        config.validate()?;
        let topic = protocol::topic::config(&config.gateway);
        self.publisher()
            .publish(&topic, protocol::encode(&config)?, true)
            .await?;
        tracing::info!(gateway = gw.gateway_id, version, "gateway config published");
        Ok(Some(config.version))
    }
}
