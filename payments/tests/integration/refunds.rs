//! Refunds hold the amount from the request on; the provider's answer or notification settles
//! or releases it exactly once; above the limit an org admin approves first.

use chrono::Utc;
use payments::notify::{handle_wechat, NotifyAnswer};
use payments::refund::{approve_refund, request_refund, Actor, RefundRequest};
use payments::PaymentError;
use store::refund::RefundStatus;
use store::testing::TestDb;

use crate::fake::{self, PLATFORM_SERIAL};
use crate::providers::{order, providers, Providers};
use crate::support::{assert_ledger_balances, balance_fen};

const API_V3_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

async fn wechat_event(p: &Providers, event: &str, resource: serde_json::Value) -> NotifyAnswer {
    let keys = fake::keys().await;
    let (headers, body) = payments::wechat::sign::notification(
        &keys.platform,
        PLATFORM_SERIAL,
        API_V3_KEY,
        event,
        &resource,
        Utc::now().timestamp(),
    )
    .unwrap();
    handle_wechat(
        p.w.db.conn(),
        &p.w.clients,
        "wechat",
        &p.w.merchant.id.to_string(),
        &headers,
        body.as_bytes(),
        "test",
        Utc::now(),
    )
    .await
}

/// A WeChat order of `fen`, paid by notification.
async fn paid_order(p: &Providers, amount: &str, fen: i64) -> (uuid::Uuid, String) {
    let created = order(p, "wechat", Some("native"), None, amount).await;
    let answer = wechat_event(p, "TRANSACTION.SUCCESS", serde_json::json!({
        "mchid": "1900000109", "appid": "wxd678efh567hg6787", "out_trade_no": created.out_trade_no,
        "transaction_id": format!("42000{}", created.out_trade_no), "trade_state": "SUCCESS",
        "amount": {"total": fen, "currency": "CNY"},
    }))
    .await;
    assert_eq!(answer, NotifyAnswer::Ok);
    (created.order_id, created.out_trade_no)
}

fn refund_event(
    out_trade_no: &str,
    out_refund_no: &str,
    status: &str,
    total: i64,
    refund: i64,
) -> serde_json::Value {
    serde_json::json!({
        "mchid": "1900000109", "out_trade_no": out_trade_no, "out_refund_no": out_refund_no,
        "refund_id": "50000000382019052709732678859", "refund_status": status,
        "amount": {"total": total, "refund": refund, "payer_total": total, "payer_refund": refund},
    })
}

#[tokio::test]
async fn a_wechat_refund_holds_then_settles_or_releases_exactly_once() {
    let p = providers(TestDb::sqlite().await.unwrap()).await;
    let start = balance_fen(&p.w, &p.w.a).await;
    let (order_id, out_trade_no) = paid_order(&p, "80.00", 8000).await;
    let admin = Actor {
        user: p.w.a.admin,
        org_admin: true,
    };
    let refund = request_refund(
        p.w.db.conn(),
        &p.w.clients,
        p.w.a.org,
        admin,
        RefundRequest {
            order_id,
            amount: Some("30.00".into()),
            reason: "moved out".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(refund.status, RefundStatus::Processing);
    assert_eq!(
        balance_fen(&p.w, &p.w.a).await,
        start + 8000 - 3000,
        "held from the request on"
    );
    assert_eq!(
        p.fake.state.lock().unwrap().refunds[0]["amount"]["refund"],
        3000
    );
    for _ in 0..2 {
        let event = refund_event(&out_trade_no, &refund.out_refund_no, "SUCCESS", 8000, 3000);
        assert_eq!(
            wechat_event(&p, "REFUND.SUCCESS", event).await,
            NotifyAnswer::Ok
        );
    }
    let settled = store::refund::get(p.w.db.conn(), p.w.a.org, refund.id)
        .await
        .unwrap();
    assert_eq!(settled.status, RefundStatus::Succeeded);
    assert_eq!(balance_fen(&p.w, &p.w.a).await, start + 5000);

    // The rest of the order; this one the bank refuses: the hold is released once.
    let failing = request_refund(
        p.w.db.conn(),
        &p.w.clients,
        p.w.a.org,
        admin,
        RefundRequest {
            order_id,
            amount: None,
            reason: "moved out".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(failing.amount_fen, 5000);
    assert_eq!(balance_fen(&p.w, &p.w.a).await, start);
    let over = request_refund(
        p.w.db.conn(),
        &p.w.clients,
        p.w.a.org,
        admin,
        RefundRequest {
            order_id,
            amount: Some("0.01".into()),
            reason: "again".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            over,
            PaymentError::Rejected {
                code: "amount_exceeds_refundable",
                ..
            }
        ),
        "{over}"
    );
    for _ in 0..2 {
        let event = refund_event(
            &out_trade_no,
            &failing.out_refund_no,
            "ABNORMAL",
            8000,
            5000,
        );
        assert_eq!(
            wechat_event(&p, "REFUND.ABNORMAL", event).await,
            NotifyAnswer::Ok
        );
    }
    let released = store::refund::get(p.w.db.conn(), p.w.a.org, failing.id)
        .await
        .unwrap();
    assert_eq!(released.status, RefundStatus::Failed);
    assert_eq!(
        balance_fen(&p.w, &p.w.a).await,
        start + 5000,
        "released once"
    );
    assert_ledger_balances(&p.w).await;
}

#[tokio::test]
async fn a_large_refund_waits_for_an_org_admin_and_alipay_refunds_settle_at_once() {
    let p = providers(TestDb::sqlite().await.unwrap()).await;
    let mut limits = store::payment::limits(p.w.db.conn(), p.w.a.org)
        .await
        .unwrap();
    limits.refund_approval_above_fen = 1000;
    store::payment::set_limits(p.w.db.conn(), limits)
        .await
        .unwrap();
    let start = balance_fen(&p.w, &p.w.a).await;
    let created = order(&p, "alipay", None, None, "20.00").await;
    fake::alipay_order(&p.fake, &created.out_trade_no, 2000);
    p.fake.set_state(&created.out_trade_no, "TRADE_SUCCESS");
    payments::poll_due_orders(
        p.w.db.conn(),
        &p.w.clients,
        Utc::now() + chrono::Duration::minutes(4),
    )
    .await
    .unwrap();
    assert_eq!(balance_fen(&p.w, &p.w.a).await, start + 2000);

    let operator = Actor {
        user: p.w.a.admin,
        org_admin: false,
    };
    let refund = request_refund(
        p.w.db.conn(),
        &p.w.clients,
        p.w.a.org,
        operator,
        RefundRequest {
            order_id: created.order_id,
            amount: Some("15.00".into()),
            reason: "overpaid".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(refund.status, RefundStatus::PendingApproval);
    assert_eq!(
        balance_fen(&p.w, &p.w.a).await,
        start + 500,
        "held while waiting"
    );
    assert!(
        p.fake.state.lock().unwrap().refunds.is_empty(),
        "nothing sent before approval"
    );
    let approved = approve_refund(
        p.w.db.conn(),
        &p.w.clients,
        p.w.a.org,
        p.w.a.admin,
        refund.id,
    )
    .await
    .unwrap();
    assert_eq!(
        approved.status,
        RefundStatus::Succeeded,
        "Alipay refunds synchronously"
    );
    assert_eq!(
        p.fake.state.lock().unwrap().refunds[0]["refund_amount"],
        "15.00"
    );
    assert_eq!(balance_fen(&p.w, &p.w.a).await, start + 500);
    assert_ledger_balances(&p.w).await;
}
