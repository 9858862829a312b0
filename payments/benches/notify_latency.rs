//! Benchmark: notification-to-credit latency through the production path (verify the
//! signature, decrypt, lock the order, post the `topup`, write the outbox row, commit), one
//! sandbox-signed WeChat v3 notification at a time, on each backend
//! (`store::testing::backends()`: SQLite, and PostgreSQL when `WATTPAY_TEST_DATABASE_URL` is
//! set). Prints p50/p90/p99/max.
//!
//! `cargo bench -p payments --bench notify_latency` (`WATTPAY_BENCH_NOTIFICATIONS`, default 200).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::Utc;
use payments::merchant::{create_merchant, MerchantKeys, MerchantRequest};
use payments::notify::{handle_wechat, NotifyAnswer};
use payments::order::{create_order, OrderRequest};
use payments::{Clients, ProviderConfig, SecretBox};
use secrecy::SecretString;

fn percentile(sorted: &[Duration], q: usize) -> Duration {
    sorted[(sorted.len() * q / 100).min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("WATTPAY_BENCH_NOTIFICATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    for db in store::testing::backends().await {
        let seeded = store::testing::seed_two_orgs(&db).await.unwrap();
        let org = seeded.a.org;
        let secrets = SecretBox::new(&SecretString::from("bench-secret-key-".repeat(3))).unwrap();
        let clients = Clients::new(ProviderConfig::default(), secrets).unwrap();
        let merchant = create_merchant(
            &db,
            &clients,
            org,
            MerchantRequest {
                name: "Sandbox".into(),
                provider: "sandbox".into(),
                wechat: None,
                alipay: None,
                default_for: Some(serde_json::json!("organization")),
            },
        )
        .await
        .unwrap();
        let MerchantKeys::Sandbox(keys, platform_key) = clients.keys(&merchant).unwrap() else {
            panic!("a sandbox merchant has sandbox keys");
        };
        let account_no = store::account::get(db.conn(), org, seeded.a.account)
            .await
            .unwrap()
            .account_no;
        let mut took = Vec::with_capacity(n);
        for _ in 0..n {
            // Orders count against the pending cap: create and pay one at a time.
            let created = create_order(
                db.conn(),
                &clients,
                OrderRequest {
                    account_no: account_no.clone(),
                    amount: "10.00".into(),
                    provider: "sandbox".into(),
                    merchant_id: None,
                    channel: None,
                    openid: None,
                },
                None,
                Utc::now(),
            )
            .await
            .unwrap();
            let order = store::payment::get(db.conn(), org, created.order_id.into())
                .await
                .unwrap();
            let (headers, body) = payments::sandbox::paid_notification(
                &keys,
                &platform_key,
                &order,
                &payments::sandbox::transaction_id(),
                Utc::now(),
            )
            .unwrap();
            let started = Instant::now();
            let answer = handle_wechat(
                db.conn(),
                &clients,
                "sandbox",
                &merchant.id.to_string(),
                &headers,
                body.as_bytes(),
                "bench",
                Utc::now(),
            )
            .await;
            took.push(started.elapsed());
            assert_eq!(answer, NotifyAnswer::Ok);
        }
        let balance = store::account::get(db.conn(), org, seeded.a.account)
            .await
            .unwrap()
            .balance_fen;
        assert_eq!(balance, 10_000 + 1_000 * i64::try_from(n).unwrap());
        took.sort();
        println!(
            "notification-to-credit on {}: p50 {:?}, p90 {:?}, p99 {:?}, max {:?} ({n} notifications)",
            db.backend(),
            percentile(&took, 50),
            percentile(&took, 90),
            percentile(&took, 99),
            took[took.len() - 1],
        );
    }
}
