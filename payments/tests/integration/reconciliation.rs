//! Importing a provider bill: matched lines, a paid-not-credited order repaired, every other
//! difference a work order; a second import changes nothing.

use std::fmt::Write as _;

use chrono::Utc;
use payments::merchant::MerchantKeys;
use payments::notify::{handle_wechat, NotifyAnswer};
use payments::order::{create_order, OrderRequest};
use payments::reconcile::{import_bill, ReconReport};
use store::payment::{PaymentOrder, PaymentStatus};

use crate::support::{account_no, assert_ledger_balances, balance_fen, sandbox_world, World};

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
    store::payment::get(w.db.conn(), w.a.org, created.order_id.into())
        .await
        .unwrap()
}

async fn pay(w: &World, order: &PaymentOrder, txn: &str) {
    let MerchantKeys::Sandbox(keys, platform) = w.clients.keys(&w.merchant).unwrap() else {
        panic!()
    };
    let (headers, body) =
        payments::sandbox::paid_notification(&keys, &platform, order, txn, Utc::now()).unwrap();
    let answer = handle_wechat(
        w.db.conn(),
        &w.clients,
        "sandbox",
        &w.merchant.id.to_string(),
        &headers,
        body.as_bytes(),
        "test",
        Utc::now(),
    )
    .await;
    assert_eq!(answer, NotifyAnswer::Ok);
}

fn bill(lines: &[(&str, &str, &str)]) -> String {
    let mut bill = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\n".to_owned();
    for (txn, out, amount) in lines {
        writeln!(
            bill,
            "`2026-11-21 10:00:00,`wxsandbox,`1,`0,`,`{txn},`{out},`o1,`NATIVE,`SUCCESS,`OTHERS,`CNY,`{amount},`0.00,`0,`0,`0.00,`0.00,`,`,`电费充值,`,`0.00,`0.60%,`{amount},`0.00,`"
        )
        .unwrap();
    }
    bill.push_str("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n`0,`0.00,`0.00,`0.00,`0.00,`0.00,`0.00\n");
    bill
}

#[tokio::test]
async fn a_bill_import_matches_repairs_and_raises_work_orders_once() {
    for db in store::testing::backends().await {
        let w = sandbox_world(db).await;
        let matched = order(&w, "37.50").await;
        pay(&w, &matched, "T1").await;
        let lost = order(&w, "20.00").await; // paid at the provider, notification never came
        let missing = order(&w, "5.00").await;
        pay(&w, &missing, "T3").await; // credited, but the bill will not list it
        let other_amount = order(&w, "8.00").await;
        let before = balance_fen(&w, &w.a).await;
        let text = bill(&[
            ("T1", &matched.out_trade_no, "37.50"),
            ("T2", &lost.out_trade_no, "20.00"),
            ("T9", "WPNOTOURS0000000000000000000", "1.00"),
            ("T4", &other_amount.out_trade_no, "80.00"),
        ]);
        let date = Utc::now()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .date_naive();
        let report = import_bill(w.db.conn(), w.a.org, w.merchant.id, date, text.as_bytes())
            .await
            .unwrap();
        assert_eq!(
            report,
            ReconReport {
                matched: 1,
                repaired: 1,
                open: 3,
                already_reconciled: 0
            },
            "{}",
            w.db.backend()
        );
        assert_eq!(
            balance_fen(&w, &w.a).await,
            before + 2000,
            "the lost payment is credited"
        );
        let repaired = store::payment::get(w.db.conn(), w.a.org, lost.id)
            .await
            .unwrap();
        assert_eq!(
            (repaired.status, repaired.provider_txn_id.as_deref()),
            (PaymentStatus::Paid, Some("T2"))
        );
        let audit = store::audit::list(w.db.conn(), w.a.org, store::Page::default())
            .await
            .unwrap();
        assert!(audit
            .items
            .iter()
            .any(|e| e.action == "payment.reconciled" && e.target_id == lost.id.to_string()));
        let work = store::payment::work_orders_of_kind(w.db.conn(), w.a.org, "payment")
            .await
            .unwrap();
        assert_eq!(work.len(), 3, "{work:#?}");

        let again = import_bill(w.db.conn(), w.a.org, w.merchant.id, date, text.as_bytes())
            .await
            .unwrap();
        assert_eq!(
            again,
            ReconReport {
                matched: 0,
                repaired: 0,
                open: 0,
                already_reconciled: 4
            }
        );
        assert_eq!(
            store::payment::work_orders_of_kind(w.db.conn(), w.a.org, "payment")
                .await
                .unwrap()
                .len(),
            3
        );
        assert_eq!(balance_fen(&w, &w.a).await, before + 2000);
        assert_ledger_balances(&w).await;
    }
}
