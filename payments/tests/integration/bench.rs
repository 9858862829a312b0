//! Benchmark: notification-to-credit latency through the production path (verify, decrypt,
//! lock, post, outbox, commit), measured per notification on each backend and printed as
//! percentiles (`cargo test -p payments --test integration bench -- --nocapture`). The
//! assertion is the restore budget: p99 well under a second even in a debug build.

use std::time::{Duration, Instant};

use chrono::Utc;
use payments::notify::{handle_wechat, NotifyAnswer};

use crate::fake::{self, PLATFORM_SERIAL};
use crate::providers::{order, providers};
use crate::support::{assert_ledger_balances, balance_fen};

const NOTIFICATIONS: usize = 30;

#[tokio::test]
async fn notification_to_credit_latency() {
    for db in store::testing::backends().await {
        let p = providers(db).await;
        let keys = fake::keys().await;
        let before = balance_fen(&p.w, &p.w.a).await;
        let mut deliveries = Vec::new();
        for _ in 0..NOTIFICATIONS {
            let created = order(&p, "wechat", Some("native"), None, "10.00").await;
            // Orders count against the pending cap; pay as we go.
            let (headers, body) = payments::wechat::sign::notification(
                &keys.platform,
                PLATFORM_SERIAL,
                b"0123456789abcdef0123456789abcdef",
                "TRANSACTION.SUCCESS",
                &serde_json::json!({
                    "mchid": "1900000109", "appid": "wxd678efh567hg6787",
                    "out_trade_no": created.out_trade_no,
                    "transaction_id": format!("42000{}", created.out_trade_no),
                    "trade_state": "SUCCESS", "amount": {"total": 1000, "currency": "CNY"},
                }),
                Utc::now().timestamp(),
            )
            .unwrap();
            let started = Instant::now();
            let answer = handle_wechat(
                p.w.db.conn(),
                &p.w.clients,
                "wechat",
                &p.w.merchant.id.to_string(),
                &headers,
                body.as_bytes(),
                "bench",
                Utc::now(),
            )
            .await;
            deliveries.push(started.elapsed());
            assert_eq!(answer, NotifyAnswer::Ok);
        }
        deliveries.sort();
        let pct = |q: usize| deliveries[(deliveries.len() * q / 100).min(deliveries.len() - 1)];
        println!(
            "notification-to-credit on {}: p50 {:?}, p90 {:?}, p99 {:?}, max {:?} ({NOTIFICATIONS} notifications)",
            p.w.db.backend(), pct(50), pct(90), pct(99), deliveries[deliveries.len() - 1]
        );
        assert!(pct(99) < Duration::from_millis(500), "p99 {:?}", pct(99));
        let expected = before + 1000 * i64::try_from(NOTIFICATIONS).unwrap();
        assert_eq!(balance_fen(&p.w, &p.w.a).await, expected);
        assert_ledger_balances(&p.w).await;
    }
}
