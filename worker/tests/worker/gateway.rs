//! Gateway configuration and the daily freeze: a meter change publishes a retained
//! `GatewayConfig` with a new version, the agent's reported version is recorded, and a day's
//! opening and closing balances are frozen from the ledger once.

use chrono::Duration;
use domain::Money;
use store::testing::backends;

use super::helpers::{t0, World};

#[tokio::test]
async fn a_meter_change_publishes_a_new_retained_config() {
    for db in backends().await {
        let w = World::new(db, Money::from_fen(10_000)).await;
        let gw = store::unscoped::find_gateway_by_wire_id(w.db.conn(), &w.gateway)
            .await
            .unwrap()
            .unwrap();
        store::gateway_config::set_bus_settings(
            w.db.conn(),
            w.org.org,
            gw.id,
            &serde_json::json!({"rs485-1": {"transport": "rtu", "device": "/dev/ttyUSB0", "baud": 9600}}),
        )
        .await
        .unwrap();
        for expected in 1..=2 {
            store::outbox::enqueue(
                w.db.conn(),
                Some(w.org.org),
                store::outbox::kind::GATEWAY_CONFIG_CHANGED,
                serde_json::json!({"gateway_id": gw.id}),
            )
            .await
            .unwrap();
            w.worker.process_outbox_once(t0()).await.unwrap();
            let published = w.published.take();
            assert_eq!(published.len(), 1, "{}", w.db.backend());
            assert!(published[0].retain);
            assert!(published[0].topic.ends_with("/down/config"));
            let config = protocol::decode_gateway_config(&published[0].payload).unwrap();
            assert_eq!(config.version, expected);
            assert_eq!(config.bus.len(), 1);
            assert_eq!(config.bus[0].meter.len(), 1);
            assert_eq!(config.bus[0].meter[0].id.as_str(), "m-201");
        }
        let status = protocol::GatewayStatus {
            v: protocol::V1,
            gateway: protocol::GatewayId::parse(&w.gateway).unwrap(),
            online: true,
            agent_version: "0.3.0".into(),
            buses: vec![],
            ts: t0(),
            config_version: Some(2),
            config_error: None,
            queue_len: Some(0),
            dropped_readings: Some(0),
            rejected_commands: Some(0),
            clock_ok: Some(true),
        };
        w.worker.handle_status(&status, t0()).await.unwrap();
        let state = store::gateway_config::get(w.db.conn(), w.org.org, gw.id)
            .await
            .unwrap();
        assert_eq!(
            (state.config_version, state.reported_config_version),
            (2, Some(2))
        );
    }
}

#[tokio::test]
async fn the_daily_freeze_records_opening_and_closing_once() {
    for db in backends().await {
        let w = World::new(db, Money::from_fen(10_000)).await;
        w.worker
            .ingest_batch(&w.batch(1, &[(0, "100.00"), (60, "103.00")]), t0())
            .await
            .unwrap();
        w.worker.rate_pending(t0()).await.unwrap();
        // The ledger entries carry the wall-clock time they were posted: freeze "today" as
        // seen from tomorrow.
        let tomorrow = chrono::Utc::now() + Duration::days(1);
        let written = w.worker.freeze(tomorrow).await.unwrap();
        assert!(written >= 1);
        assert_eq!(w.worker.freeze(tomorrow).await.unwrap(), 0, "frozen once");
        let day = chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .format("%Y-%m-%d")
            .to_string();
        let frozen = store::daily::frozen(w.db.conn(), w.org.org, w.account.id, &day)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(frozen.closing_fen, 9_700, "{}", w.db.backend());
        assert_eq!(frozen.opening_fen, 0);
        // Usage by the site's local day of the readings.
        let usage = store::daily::usage_of_meter(w.db.conn(), w.org.org, w.meter, "2026-11-23")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((usage.energy_wh, usage.cost_fen), (3_000, 300));
    }
}
