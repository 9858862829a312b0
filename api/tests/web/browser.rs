//! The main flows in a real headless Chromium driven over WebDriver: a manager signs in with
//! the keyboard, opens an account, takes a counter payment through the confirm dialog and sees
//! the balance change, prints the receipt, reverses the payment with the keyboard through the
//! confirm dialog and sees the day-end report's totals; a tenant opens the door page on a 360x740 phone and sees the balance and
//! power come back live, without a reload, when a payment lands.
//!
//! Screenshots go to `target/screenshots/`. Without Chromium the test says so and passes,
//! unless `CI=true`, where a missing browser is a failure.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use domain::Money;
use fantoccini::{key::Key, Client, ClientBuilder, Locator};
use sea_orm::{ActiveModelTrait as _, IntoActiveModel as _, Set};
use tokio::io::AsyncBufReadExt as _;

use crate::support::{spawn_web, MANAGER_A, PASSWORD};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a page may take to show what the test waits for.
pub(crate) const PATIENCE: Duration = Duration::from_secs(15);

pub(crate) fn browser_paths() -> Option<(String, String)> {
    let chromium = std::env::var("WATTPAY_CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
    let driver = std::env::var("WATTPAY_CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.to_owned());
    (Path::new(&chromium).exists() && Path::new(&driver).exists()).then_some((chromium, driver))
}

/// chromedriver on a free port, killed when dropped.
pub(crate) struct Driver {
    child: tokio::process::Child,
    url: String,
}

impl Driver {
    pub(crate) async fn start(path: &str) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = tokio::process::Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        // chromedriver says when it listens; read until then instead of guessing a delay.
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::time::timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.contains("started successfully") {
                    return;
                }
            }
            panic!("chromedriver exited before it started");
        })
        .await
        .expect("chromedriver did not start");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn session(&self, chromium: &str, profile: &Path, size: (u32, u32)) -> Client {
        self.session_as(chromium, profile, size, None).await
    }

    /// [`Self::session`] with another phone User-Agent (WeChat's browser, for instance).
    pub(crate) async fn session_as(
        &self,
        chromium: &str,
        profile: &Path,
        size: (u32, u32),
        user_agent: Option<&str>,
    ) -> Client {
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            format!("--user-data-dir={}", profile.display()),
            format!("--window-size={},{}", size.0, size.1),
            "--lang=zh-CN".to_owned(),
        ];
        let mut options = serde_json::json!({
            "binary": chromium,
            "args": args,
            // What a phone or desktop in China sends: the pages answer in Chinese.
            "prefs": { "intl.accept_languages": "zh-CN,zh" },
        });
        if size.0 < 500 {
            // Desktop windows cannot be narrower than 500 px: emulate the phone's viewport.
            options["mobileEmulation"] = serde_json::json!({
                "deviceMetrics": { "width": size.0, "height": size.1, "pixelRatio": 2.0, "touch": true },
                "userAgent": user_agent.unwrap_or("Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36"),
            });
        }
        let caps = serde_json::json!({
            "goog:chromeOptions": options,
            "unhandledPromptBehavior": "ignore",
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps);
        builder.connect(&self.url).await.expect("WebDriver session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn screenshot_dir() -> PathBuf {
    // CARGO_MANIFEST_DIR is api/; the workspace target directory is beside it.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) async fn shoot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

pub(crate) async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn manager_and_tenant_flows_in_chromium() {
    let Some((chromium, driver_path)) = browser_paths() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but Chromium is missing: install the Debian packages chromium and chromium-driver"
        );
        eprintln!("SKIPPED browser test: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
        return;
    };
    // One backend is enough here: the HTML tests cover both; this covers the browser.
    let app = spawn_web(store::testing::TestDb::sqlite().await.unwrap()).await;
    let driver = Driver::start(&driver_path).await;
    let profiles = tempfile::tempdir().unwrap();

    // --- The manager, on a desktop.
    let desk = driver
        .session(&chromium, &profiles.path().join("desk"), (1440, 900))
        .await;
    manager_flow(&app, &desk).await;
    desk.close().await.unwrap();

    // --- The tenant, on a phone.
    let phone = driver
        .session(&chromium, &profiles.path().join("phone"), (360, 740))
        .await;
    tenant_flow(&app, &phone).await;
    phone.close().await.unwrap();
}

async fn manager_flow(app: &crate::support::WebApp, c: &Client) {
    c.goto(&app.url("/")).await.unwrap();
    // Signed out: the dashboard sends us to sign in.
    assert_eq!(c.current_url().await.unwrap().path(), "/login");
    shoot(c, "01-login").await;
    // The keyboard alone: type, Tab to the next field, Enter submits.
    let email = c.find(Locator::Id("email")).await.unwrap();
    email.send_keys(MANAGER_A).await.unwrap();
    email
        .send_keys(&char::from(Key::Tab).to_string())
        .await
        .unwrap();
    let focused = c.active_element().await.unwrap();
    assert_eq!(
        focused.attr("id").await.unwrap().as_deref(),
        Some("password")
    );
    focused
        .send_keys(&format!("{PASSWORD}{}", char::from(Key::Enter)))
        .await
        .unwrap();
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css("[data-stat=accounts]"))
        .await
        .unwrap();
    assert_eq!(text_of(c, "[data-stat=balance_total]").await, "¥100.00");
    shoot(c, "02-overview").await;

    c.find(Locator::LinkText("账户"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let no = app.account_no_a().await;
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::LinkText(&no))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let balance = c
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id("balance"))
        .await
        .unwrap();
    assert_eq!(balance.text().await.unwrap(), "¥100.00");
    shoot(c, "03-account").await;

    let amount = c.find(Locator::Id("amount")).await.unwrap();
    amount.send_keys("25.50").await.unwrap();
    c.find(Locator::Css(".counter-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The confirm dialog names the account and the amount.
    let question = c.get_alert_text().await.unwrap();
    assert_eq!(question, format!("确认向账户 {no} 收款 ¥25.50？"));
    c.accept_alert().await.unwrap();
    let flash = c
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(".flash"))
        .await
        .unwrap();
    assert_eq!(
        flash.text().await.unwrap(),
        "已收款 ¥25.50，当前余额 ¥125.50"
    );
    assert_eq!(text_of(c, "#balance").await, "¥125.50");
    shoot(c, "04-account-paid").await;

    // The printable receipt, from the flash's link.
    c.find(Locator::Id("print-receipt"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let receipt_no = c
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id("receipt-no"))
        .await
        .unwrap();
    assert_eq!(receipt_no.text().await.unwrap(), "1");
    assert_eq!(text_of(c, "#receipt-amount").await, "¥25.50");
    shoot(c, "04b-receipt").await;
    c.back().await.unwrap();

    // Reverse it (冲正) with the keyboard: choose the receipt, type the reason, Enter, confirm.
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id("rev_receipt"))
        .await
        .unwrap()
        .select_by_index(1)
        .await
        .unwrap();
    let reason = c.find(Locator::Id("rev_reason")).await.unwrap();
    reason
        .send_keys(&format!("收错金额{}", char::from(Key::Enter)))
        .await
        .unwrap();
    let question = c.get_alert_text().await.unwrap();
    assert_eq!(question, format!("确认冲正账户 {no} 的所选收据？"));
    c.accept_alert().await.unwrap();
    let flash = c
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(".flash"))
        .await
        .unwrap();
    assert_eq!(
        flash.text().await.unwrap(),
        "已冲正 ¥25.50（收据 No. 2），当前余额 ¥100.00"
    );
    assert_eq!(text_of(c, "#balance").await, "¥100.00");
    shoot(c, "04c-account-reversed").await;

    // The day-end report adds up the payment and its reversal.
    c.find(Locator::LinkText("柜台"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id("day-end-link"))
        .await
        .unwrap();
    shoot(c, "04d-desk").await;
    c.find(Locator::Id("day-end-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css("[data-total=payments]"))
        .await
        .unwrap();
    assert_eq!(text_of(c, "[data-total=payments]").await, "¥25.50");
    assert_eq!(text_of(c, "[data-total=reversals]").await, "¥-25.50");
    assert_eq!(text_of(c, "[data-total=net]").await, "¥0.00");
    shoot(c, "04e-day-end").await;

    c.goto(&app.url("/tariffs")).await.unwrap();
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id("tariffs"))
        .await
        .unwrap();
    shoot(c, "04f-tariffs").await;
    c.goto(&app.url("/gateways/new")).await.unwrap();
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id("wire_id"))
        .await
        .unwrap();
    shoot(c, "04g-gateway-new").await;

    c.goto(&app.url(&format!("/buildings/{}", app.seeded.a.building)))
        .await
        .unwrap();
    assert!(text_of(c, ".board").await.contains("¥100.00"));
    shoot(c, "05-room-board").await;
}

async fn tenant_flow(app: &crate::support::WebApp, c: &Client) {
    // The account ran out and was tripped (the manager left it at ¥100.00).
    let (org, id) = (app.seeded.a.org, app.seeded.a.account);
    let charge = |amount: i64, key: &str| store::ledger::NewEntry {
        account_id: id,
        kind: store::LedgerKind::Charge,
        amount: Money::from_fen(amount),
        idempotency_key: key.to_owned(),
        corrects: None,
        memo: None,
        created_by: None,
    };
    store::ledger::post_ledger_entry(&app.db, org, charge(-10_320, "browser-use"))
        .await
        .unwrap();
    set_state(app, "tripped").await;

    let no = app.account_no_a().await;
    c.goto(&app.url(&format!("/t/{no}"))).await.unwrap();
    let width = c
        .execute("return window.innerWidth;", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap();
    assert_eq!(width, 360, "a phone-sized viewport");
    assert_eq!(text_of(c, "[data-live=balance]").await, "-3.20");
    assert_eq!(text_of(c, "#power").await, "已断电");
    assert_eq!(
        text_of(c, "[data-live=restore]").await,
        "充值 ¥10 即可恢复供电"
    );
    // Nothing overflows the phone's width.
    let scroll_width = c
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .unwrap();
    assert!(
        scroll_width.as_u64().unwrap() <= width,
        "page wider than the phone"
    );
    shoot(c, "06-door-tripped").await;

    // A payment lands (through whatever channel) and the relay closes: the open page follows.
    let topup = store::ledger::NewEntry {
        kind: store::LedgerKind::Topup,
        ..charge(5_000, "browser-topup")
    };
    store::ledger::post_ledger_entry(&app.db, org, topup)
        .await
        .unwrap();
    set_state(app, "normal").await;
    app.announce_a().await;
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(
            "//span[@data-live='balance' and text()='46.80']",
        ))
        .await
        .unwrap();
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath("//p[@id='power' and text()='已恢复供电']"))
        .await
        .unwrap();
    assert!(!c
        .find(Locator::Css("[data-live=restore]"))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap());
    shoot(c, "07-door-restored").await;
}

async fn set_state(app: &crate::support::WebApp, state: &str) {
    let mut row = store::account::get(&app.db, app.seeded.a.org, app.seeded.a.account)
        .await
        .unwrap()
        .into_active_model();
    row.cc_state = Set(state.to_owned());
    row.update(&app.db).await.unwrap();
}
