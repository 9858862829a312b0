//! The demo's parts working together, started exactly as `wattpay demo` starts them: readings
//! flow from the simulated meters through the agent and the broker to the worker, a balance
//! falls, a low account trips and its simulated relay opens, and a sandbox top-up closes it
//! again. The relay is read over Modbus from the simulator, not from our own database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio_modbus::client::{tcp, Reader as _};
use tokio_modbus::Slave;
use wattpay::demo::{self, DemoArgs, DemoMeter};

/// Polls `check` every 500 ms until it answers `Some`, failing with `what` after `limit`.
async fn within<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The energy register of an explicit-map meter (holding 0, u32 x 0.01 kWh), in 0.01 kWh.
async fn energy_centi_kwh(demo: &demo::RunningDemo, meter: &DemoMeter) -> Option<u32> {
    let addr = demo.site.simulator_of(meter).addr();
    let mut ctx = tcp::connect_slave(addr, Slave(meter.slave)).await.ok()?;
    let regs = ctx.read_holding_registers(0, 2).await.ok()?.ok()?;
    Some((u32::from(regs[0]) << 16) | u32::from(regs[1]))
}

/// The relay of an explicit-map meter, read over Modbus TCP from its simulator (coil 0:
/// 1 closed, 0 open).
async fn relay_closed(demo: &demo::RunningDemo, meter: &DemoMeter) -> Option<bool> {
    let addr = demo.site.simulator_of(meter).addr();
    let mut ctx = tcp::connect_slave(addr, Slave(meter.slave)).await.ok()?;
    let coils = ctx.read_coils(0, 1).await.ok()?.ok()?;
    coils.first().copied()
}

async fn balance_of(demo: &demo::RunningDemo, account_no: &str) -> Option<domain::Money> {
    let account = store::unscoped::find_by_account_no(&demo.db, account_no)
        .await
        .ok()??;
    Some(account.balance())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn demo_trips_a_low_account_and_a_sandbox_top_up_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let settings = api::Settings {
        data_dir: dir.path().to_owned(),
        ..api::Settings::default()
    };
    let args = DemoArgs {
        port: 0,
        meters: 6,
        speed: 20,
    };
    let demo = demo::start(settings, worker::Settings::default(), &args)
        .await
        .unwrap();
    let client = reqwest::Client::new();

    // The seeded low account (¥0.03) sits on an explicit-map meter with relay read-back.
    let low = demo
        .seeded
        .accounts
        .iter()
        .find(|a| a.balance == domain::Money::from_fen(3))
        .expect("the demo seeds a ¥0.03 account");
    let meter = demo
        .site
        .meters
        .iter()
        .find(|m| m.wire_id == low.meter)
        .unwrap()
        .clone();
    assert!(meter.explicit && meter.special);
    assert_eq!(
        relay_closed(&demo, &meter).await,
        Some(true),
        "power is on at start"
    );

    // Readings arrive and a normal account's balance falls.
    let normal = demo
        .seeded
        .accounts
        .iter()
        .find(|a| !a.protected && a.balance > domain::Money::from_fen(2_100))
        .unwrap();
    within(
        Duration::from_secs(90),
        "a normal account's balance to fall",
        || {
            let (demo, normal) = (&demo, normal);
            async move {
                balance_of(demo, &normal.account_no)
                    .await
                    .filter(|b| *b < normal.balance)
            }
        },
    )
    .await;

    // The low account trips: the simulated meter's relay opens.
    within(
        Duration::from_secs(90),
        "the low account's relay to open",
        || {
            let (demo, meter) = (&demo, &meter);
            async move { (relay_closed(demo, meter).await == Some(false)).then_some(()) }
        },
    )
    .await;

    // Top up through the sandbox, as the door page does.
    let res = client
        .post(format!("{}/api/v1/pay/orders", demo.base))
        .json(&json!({"account_no": low.account_no, "amount": "50", "provider": "sandbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["pay"]["kind"], "sandbox");
    let order_id = order["order_id"].as_str().unwrap();
    let paid = client
        .post(format!("{}/sandbox/pay/{order_id}", demo.base))
        .send()
        .await
        .unwrap();
    assert!(
        paid.status().is_success() || paid.status().is_redirection(),
        "{}",
        paid.status()
    );

    // Power comes back within seconds: the relay closes on the simulated meter.
    within(
        Duration::from_secs(30),
        "the relay to close after the top-up",
        || {
            let (demo, meter) = (&demo, &meter);
            async move { (relay_closed(demo, meter).await == Some(true)).then_some(()) }
        },
    )
    .await;
    let balance = balance_of(&demo, &low.account_no).await.unwrap();
    assert!(
        balance > domain::Money::from_fen(4_500) && balance <= domain::Money::from_fen(5_003),
        "credited ¥50 once: {balance}"
    );

    // Money is conserved: every balance equals the sum of its ledger entries.
    let mismatches = store::unscoped::verify_balances(&demo.db).await.unwrap();
    assert!(mismatches.is_empty(), "{mismatches:?}");

    // A restart on the same data directory continues: the simulated registers never go down
    // (which rating would take for a tampered meter), and nothing is seeded twice.
    let before = energy_centi_kwh(&demo, &meter).await.unwrap();
    let accounts = demo.seeded.accounts.len();
    let low_meter = low.meter.clone();
    demo.stop().await;
    let settings = api::Settings {
        data_dir: dir.path().to_owned(),
        ..api::Settings::default()
    };
    let demo = demo::start(settings, worker::Settings::default(), &args)
        .await
        .unwrap();
    assert!(!demo.seeded.created);
    assert_eq!(demo.seeded.accounts.len(), accounts);
    let meter = demo
        .site
        .meters
        .iter()
        .find(|m| m.wire_id == low_meter)
        .unwrap()
        .clone();
    let after = energy_centi_kwh(&demo, &meter).await.unwrap();
    assert!(
        after >= before,
        "register went from {before} to {after} across the restart"
    );
    assert_eq!(relay_closed(&demo, &meter).await, Some(true));
    demo.stop().await;
}
