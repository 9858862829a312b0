//! Readings become charges once: redelivery, stale readings and anomalies charge nothing, and
//! every balance stays equal to the sum of its ledger entries.

use domain::Money;
use store::testing::backends;

use super::helpers::{t0, World};

#[tokio::test]
async fn a_rise_is_charged_once_whatever_the_redeliveries() {
    for db in backends().await {
        let w = World::new(db, Money::from_fen(10_000)).await;
        let batch = w.batch(1, &[(0, "100.00"), (15, "101.50"), (30, "102.00")]);
        let report = w.worker.ingest_batch(&batch, t0()).await.unwrap();
        assert_eq!((report.stored, report.duplicates), (3, 0));
        let rated = w.worker.rate_pending(t0()).await.unwrap();
        assert_eq!(rated.readings(), 3);
        assert_eq!(
            w.balance().await,
            Money::from_fen(9_800),
            "{}",
            w.db.backend()
        );

        // The same batch again (a QoS 1 redelivery), and a second worker's pass: nothing more.
        let again = w.worker.ingest_batch(&batch, t0()).await.unwrap();
        assert_eq!((again.stored, again.duplicates), (0, 3));
        w.worker.rate_pending(t0()).await.unwrap();
        assert_eq!(w.balance().await, Money::from_fen(9_800));

        // A late, older reading is stored for history and never charged.
        let late = w.batch(2, &[(20, "101.80")]);
        assert_eq!(w.worker.ingest_batch(&late, t0()).await.unwrap().stored, 1);
        w.worker.rate_pending(t0()).await.unwrap();
        assert_eq!(w.balance().await, Money::from_fen(9_800));

        // The live snapshot shows what the tenant page shows.
        let snap = w.worker.live().get(w.account.id).await.unwrap().unwrap();
        assert_eq!(snap.balance, Money::from_fen(9_800));
        assert_eq!(snap.today_kwh.to_wh().unwrap(), 2_000);
        assert_eq!(snap.today_cost, Money::from_fen(200));
        assert_eq!(
            snap.last_reading_at,
            Some(t0() + chrono::Duration::minutes(30))
        );
        w.assert_ledger_balanced().await;
    }
}

#[tokio::test]
async fn an_anomaly_stops_charging_and_opens_one_work_order() {
    for db in backends().await {
        let w = World::new(db, Money::from_fen(10_000)).await;
        w.worker
            .ingest_batch(&w.batch(1, &[(0, "100.00"), (15, "101.00")]), t0())
            .await
            .unwrap();
        w.worker.rate_pending(t0()).await.unwrap();
        assert_eq!(w.balance().await, Money::from_fen(9_900));
        // The register falls (meter replaced?), then rises again: nothing is charged.
        w.worker
            .ingest_batch(
                &w.batch(2, &[(30, "5.00"), (45, "6.00"), (60, "7.00")]),
                t0(),
            )
            .await
            .unwrap();
        w.worker.rate_pending(t0()).await.unwrap();
        w.worker
            .ingest_batch(&w.batch(3, &[(75, "8.00")]), t0())
            .await
            .unwrap();
        w.worker.rate_pending(t0()).await.unwrap();
        assert_eq!(
            w.balance().await,
            Money::from_fen(9_900),
            "{}",
            w.db.backend()
        );
        let orders = store::work_order::list_open(w.db.conn(), w.org.org, Some("anomaly"))
            .await
            .unwrap();
        assert_eq!(orders.len(), 1);
        assert_eq!(orders[0].meter_id, Some(w.meter));
        // The operator resolves it: rating resumes from the newest reading.
        assert!(
            store::rating_state::reset_baseline(w.db.conn(), w.org.org, w.meter)
                .await
                .unwrap()
        );
        let orders = store::work_order::list_open(w.db.conn(), w.org.org, Some("anomaly"))
            .await
            .unwrap();
        assert!(orders.is_empty());
        w.worker
            .ingest_batch(&w.batch(4, &[(90, "9.00")]), t0())
            .await
            .unwrap();
        w.worker.rate_pending(t0()).await.unwrap();
        assert_eq!(w.balance().await, Money::from_fen(9_800));
        w.assert_ledger_balanced().await;
    }
}

#[tokio::test]
async fn unknown_meters_and_malformed_payloads_are_counted_never_charged() {
    let db = store::testing::TestDb::sqlite().await.unwrap();
    let w = World::new(db, Money::from_fen(10_000)).await;
    let topic = protocol::topic::readings(&protocol::GatewayId::parse(&w.gateway).unwrap());
    assert!(w
        .worker
        .handle_uplink(&topic, b"{not json", t0())
        .await
        .is_err());
    assert!(w
        .worker
        .handle_uplink(&topic, b"[1,2]", t0())
        .await
        .is_err());
    let mut batch = w.batch(1, &[(0, "1.00")]);
    batch.readings[0].meter = protocol::MeterId::parse("m-999").unwrap();
    let payload = protocol::encode(&batch).unwrap();
    w.worker
        .handle_uplink(&topic, &payload, t0())
        .await
        .unwrap();
    // A batch naming another gateway than its topic is refused.
    let other = protocol::topic::readings(&protocol::GatewayId::parse("gw-other1").unwrap());
    assert!(w
        .worker
        .handle_uplink(&other, &payload, t0())
        .await
        .is_err());
    let m = w.worker.metrics().snapshot();
    assert_eq!((m.malformed, m.unknown_meter, m.readings_stored), (3, 1, 0));
    w.worker.rate_pending(t0()).await.unwrap();
    assert_eq!(w.balance().await, Money::from_fen(10_000));
}
