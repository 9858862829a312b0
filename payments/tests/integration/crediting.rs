//! Crediting through the sandbox provider: the production WeChat v3 notification path, end to
//! end below HTTP, on SQLite and PostgreSQL. Exactly once whatever arrives how often.

use std::sync::Arc;

use crate::support::*;
use chrono::Utc;
use payments::merchant::MerchantKeys;
use payments::notify::{handle_wechat, NotifyAnswer};
use payments::order::{create_order, OrderRequest};
use payments::wechat::notify::SignedHeaders;
use store::payment::{PaymentOrder, PaymentStatus};

async fn order(w: &World, amount: &str) -> PaymentOrder {
    let created = create_order(
        w.db.conn(),
        &w.clients,
        OrderRequest {
            account_no: account_no(w, &w.a).await,
            amount: amount.into(),
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
    assert_eq!(created.pay["kind"], "sandbox");
    assert_eq!(
        created.pay["url"],
        format!("/sandbox/pay/{}", created.order_id)
    );
    store::payment::get(w.db.conn(), w.a.org, created.order_id.into())
        .await
        .unwrap()
}

fn sandbox_notification(w: &World, order: &PaymentOrder, txn: &str) -> (SignedHeaders, String) {
    let MerchantKeys::Sandbox(keys, platform) = w.clients.keys(&w.merchant).unwrap() else {
        panic!("not a sandbox merchant");
    };
    payments::sandbox::paid_notification(&keys, &platform, order, txn, Utc::now()).unwrap()
}

async fn deliver(w: &World, headers: &SignedHeaders, body: &str) -> NotifyAnswer {
    handle_wechat(
        w.db.conn(),
        &w.clients,
        "sandbox",
        &w.merchant.id.to_string(),
        headers,
        body.as_bytes(),
        "test",
        Utc::now(),
    )
    .await
}

#[tokio::test]
async fn a_sandbox_payment_credits_once_with_an_outbox_row() {
    for db in store::testing::backends().await {
        let w = sandbox_world(db).await;
        let before = balance_fen(&w, &w.a).await;
        let order = order(&w, "37.50").await;
        let (headers, body) = sandbox_notification(&w, &order, "sandbox-txn-1");
        assert_eq!(deliver(&w, &headers, &body).await, NotifyAnswer::Ok);
        assert_eq!(
            deliver(&w, &headers, &body).await,
            NotifyAnswer::Ok,
            "a replay is success"
        );
        assert_eq!(
            balance_fen(&w, &w.a).await,
            before + 3750,
            "{}",
            w.db.backend()
        );
        let paid = store::payment::get(w.db.conn(), w.a.org, order.id)
            .await
            .unwrap();
        assert_eq!(paid.status, PaymentStatus::Paid);
        assert_eq!(paid.provider_txn_id.as_deref(), Some("sandbox-txn-1"));
        let notes = store::payment::notifications_of(w.db.conn(), w.a.org, order.id)
            .await
            .unwrap();
        let outcomes: Vec<_> = notes.iter().map(|n| n.outcome.as_str()).collect();
        assert_eq!(outcomes, ["credited", "duplicate"]);
        assert_eq!(notes[0].raw_body, body, "the raw body is kept");
        let claimed =
            store::outbox::claim(w.db.conn(), "t", 10, std::time::Duration::from_secs(60))
                .await
                .unwrap();
        let changed: Vec<_> = claimed
            .iter()
            .filter(|m| m.kind == store::outbox::kind::BALANCE_CHANGED)
            .collect();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].payload["account_id"], w.a.account.to_string());
        assert_eq!(
            balance_fen(&w, &w.b).await,
            5000,
            "organization B untouched"
        );
        assert_ledger_balances(&w).await;
    }
}

#[tokio::test]
async fn twenty_concurrent_copies_of_the_first_notification_credit_once() {
    for db in store::testing::backends().await {
        let w = Arc::new(sandbox_world(db).await);
        let before = balance_fen(&w, &w.a).await;
        let order = order(&w, "20.00").await;
        let (headers, body) = sandbox_notification(&w, &order, "sandbox-txn-race");
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (w, headers, body) = (w.clone(), headers.clone(), body.clone());
            tasks.push(tokio::spawn(
                async move { deliver(&w, &headers, &body).await },
            ));
        }
        for t in tasks {
            assert_eq!(
                t.await.unwrap(),
                NotifyAnswer::Ok,
                "{}: every copy is answered success",
                w.db.backend()
            );
        }
        assert_eq!(
            balance_fen(&w, &w.a).await,
            before + 2000,
            "{}",
            w.db.backend()
        );
        let notes = store::payment::notifications_of(w.db.conn(), w.a.org, order.id)
            .await
            .unwrap();
        assert_eq!(notes.iter().filter(|n| n.outcome == "credited").count(), 1);
        assert_eq!(
            notes.iter().filter(|n| n.outcome == "duplicate").count(),
            19
        );
        assert_ledger_balances(&w).await;
    }
}

#[tokio::test]
async fn verified_but_wrong_reports_are_recorded_not_credited() {
    let w = sandbox_world(store::testing::TestDb::sqlite().await.unwrap()).await;
    let before = balance_fen(&w, &w.a).await;
    let mut order = order(&w, "10.00").await;
    // The provider confirms another amount than we asked for.
    order.amount_fen = 1;
    let (headers, body) = sandbox_notification(&w, &order, "sandbox-txn-wrong");
    assert_eq!(
        deliver(&w, &headers, &body).await,
        NotifyAnswer::Ok,
        "recorded, so the provider may stop"
    );
    // And one for an order we never made.
    order.out_trade_no = "WPNOSUCHORDER0000000000000".into();
    let (headers, body) = sandbox_notification(&w, &order, "sandbox-txn-unknown");
    assert_eq!(deliver(&w, &headers, &body).await, NotifyAnswer::Ok);
    assert_eq!(balance_fen(&w, &w.a).await, before);
    let work = store::payment::work_orders_of_kind(w.db.conn(), w.a.org, "payment")
        .await
        .unwrap();
    let titles: Vec<_> = work.iter().map(|o| o.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Payment not credited: amount_mismatch",
            "Payment not credited: unknown_order"
        ]
    );
    assert_ledger_balances(&w).await;
}

#[tokio::test]
async fn an_unverified_notification_changes_nothing() {
    let w = sandbox_world(store::testing::TestDb::sqlite().await.unwrap()).await;
    let order = order(&w, "10.00").await;
    let (headers, body) = sandbox_notification(&w, &order, "sandbox-txn-forged");
    let forged = body.replace("\"id\"", "\"id\" ");
    let answer = deliver(&w, &headers, &forged).await;
    assert!(
        matches!(answer, NotifyAnswer::Fail { status: 401, .. }),
        "{answer:?}"
    );
    let other_merchant = handle_wechat(
        w.db.conn(),
        &w.clients,
        "wechat",
        &w.merchant.id.to_string(),
        &headers,
        body.as_bytes(),
        "test",
        Utc::now(),
    )
    .await;
    assert!(
        matches!(other_merchant, NotifyAnswer::Fail { status: 404, .. }),
        "provider must match the merchant's"
    );
    let paid = store::payment::get(w.db.conn(), w.a.org, order.id)
        .await
        .unwrap();
    assert_eq!(paid.status, PaymentStatus::Pending);
    assert!(
        store::payment::notifications_of(w.db.conn(), w.a.org, order.id)
            .await
            .unwrap()
            .is_empty()
    );
}
