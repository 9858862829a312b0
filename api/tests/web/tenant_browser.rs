//! The tenant's pages in a real headless Chromium on a 360 px phone: sign-in with the code
//! read from the outbox (as a tenant reads the SMS), the privacy consent by keyboard, both
//! accounts of the phone, the usage chart and ledger, switching accounts; then WeChat's browser
//! (its User-Agent): the silent web authorisation against the local fake, the Alipay guidance,
//! and the JSAPI call handed to `WeixinJSBridge`, which the test stubs in the page as WeChat's
//! client would provide it. Every page is checked for labelled inputs and text contrast.
//!
//! Screenshots go to `target/screenshots/` (`2x-tenant-*`). Without Chromium the test says so
//! and passes, unless `CI=true`.

use fantoccini::{key::Key, Client, Locator};

use crate::browser::{browser_paths, shoot, text_of, Driver, PATIENCE};
use crate::tenant::PHONE;
use crate::tenant_wechat::{wechat_world, APPID, WECHAT_UA};

/// Inputs without a label, and text below WCAG AA contrast (4.5:1, 3:1 for large text),
/// found by walking the page's computed styles.
const A11Y_CHECK: &str = r#"
function rgba(c) { var m = c.match(/[\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; }
function lum(c) { var v = c.slice(0, 3).map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; }
function background(el) { for (; el && el.nodeType === 1; el = el.parentElement) { var b = rgba(getComputedStyle(el).backgroundColor); if (b[3] > 0.5) return b; } return [255, 255, 255, 1]; }
var problems = [];
document.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(function (i) {
  if (!i.labels || i.labels.length === 0) problems.push("no label: " + (i.id || i.name));
});
document.querySelectorAll("body *").forEach(function (el) {
  if (el.closest("svg") || el.closest("[hidden]") || el.getClientRects().length === 0) return;
  var own = Array.prototype.some.call(el.childNodes, function (n) { return n.nodeType === 3 && n.textContent.trim(); });
  if (!own) return;
  var s = getComputedStyle(el);
  if (s.visibility === "hidden" || parseFloat(s.opacity) === 0) return;
  var fg = lum(rgba(s.color)), bg = lum(background(el));
  var ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
  var size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
  var need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < need) problems.push("contrast " + ratio.toFixed(2) + ": " + el.tagName + "." + el.className + " " + el.textContent.trim().slice(0, 30));
});
return problems;
"#;

async fn accessible(c: &Client, page: &str) {
    let problems = c.execute(A11Y_CHECK, vec![]).await.unwrap();
    assert_eq!(problems, serde_json::json!([]), "{page}");
    let width = c
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .unwrap();
    assert!(
        width.as_u64().unwrap() <= 360,
        "{page} is wider than the phone"
    );
}

async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
}

async fn path_of(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_owned()
}

#[tokio::test]
async fn tenant_signs_in_switches_accounts_and_pays_inside_wechat_in_chromium() {
    let Some((chromium, driver_path)) = browser_paths() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but Chromium is missing: install the Debian packages chromium and chromium-driver"
        );
        eprintln!("SKIPPED tenant browser test: Chromium or chromedriver is missing");
        return;
    };
    let (app, _wx) = wechat_world(store::testing::TestDb::sqlite().await.unwrap(), true).await;
    let driver = Driver::start(&driver_path).await;
    let profiles = tempfile::tempdir().unwrap();

    // --- Signing in on an ordinary phone browser.
    let c = driver
        .session_as(&chromium, &profiles.path().join("tenant"), (360, 740), None)
        .await;
    c.goto(&app.url("/t/me")).await.unwrap();
    assert_eq!(path_of(&c).await, "/t/login");
    let phone = wait_for(&c, "#phone").await;
    accessible(&c, "sign-in").await;
    shoot(&c, "20-tenant-login").await;
    phone
        .send_keys(&format!("{PHONE}{}", char::from(Key::Enter)))
        .await
        .unwrap();
    let code_field = wait_for(&c, "#code").await;
    assert!(text_of(&c, "#login-message").await.contains("138****0000"));
    // The tenant reads the SMS.
    let code = app.sms_code(PHONE);
    code_field
        .send_keys(&format!("{code}{}", char::from(Key::Enter)))
        .await
        .unwrap();
    // First sign-in of this phone: the privacy notice, accepted with the keyboard.
    let consent = wait_for(&c, "#consent").await;
    assert_eq!(
        text_of(&c, "#consent-error").await,
        "首次登录请先阅读并同意隐私声明"
    );
    accessible(&c, "privacy notice").await;
    shoot(&c, "21-tenant-privacy").await;
    consent.send_keys(" ").await.unwrap();
    consent
        .send_keys(&char::from(Key::Tab).to_string())
        .await
        .unwrap();
    let focused = c.active_element().await.unwrap();
    assert_eq!(
        focused.attr("type").await.unwrap().as_deref(),
        Some("submit")
    );
    focused
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();

    // Both accounts of the phone: the home in org-a, the shop... in org-b.
    wait_for(&c, "#accounts").await;
    assert_eq!(path_of(&c).await, "/t/me");
    let list = text_of(&c, "#accounts").await;
    assert!(list.contains("org-a") && list.contains("org-b"), "{list}");
    assert!(
        list.contains("¥100.00") && list.contains("¥50.00"),
        "{list}"
    );
    accessible(&c, "accounts").await;
    shoot(&c, "22-tenant-accounts").await;

    c.find(Locator::XPath("//a[contains(., 'org-a')]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&c, "#usage svg[role=img]").await;
    let a = app.seeded.a.account.to_string();
    assert_eq!(path_of(&c).await, format!("/t/me/{a}"));
    assert_eq!(text_of(&c, "[data-live=balance]").await, "100.00");
    assert!(text_of(&c, "#ledger").await.contains("开户"));
    accessible(&c, "account").await;
    shoot(&c, "23-tenant-account").await;

    // Switch to the other account.
    c.find(Locator::Css(".tenant-switch a:not([aria-current])"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(
            "//span[@data-live='balance' and text()='50.00']",
        ))
        .await
        .unwrap();
    let b = app.seeded.b.account.to_string();
    assert_eq!(path_of(&c).await, format!("/t/me/{b}"));
    shoot(&c, "24-tenant-switched").await;
    c.close().await.unwrap();

    // --- The door page opened inside WeChat.
    let w = driver
        .session_as(
            &chromium,
            &profiles.path().join("wechat"),
            (360, 740),
            Some(WECHAT_UA),
        )
        .await;
    let no = app.account_no_a().await;
    w.goto(&app.url(&format!("/t/{no}"))).await.unwrap();
    // Through WeChat's (fake) authorisation page and back, without the tenant doing anything.
    wait_for(&w, "[data-live=balance]").await;
    assert_eq!(path_of(&w).await, format!("/t/{no}"));
    let page = text_of(&w, ".door-topup").await;
    assert!(
        page.contains("微信内无法使用支付宝，请点右上角在浏览器中打开"),
        "{page}"
    );
    accessible(&w, "door page in WeChat").await;

    // Choosing Alipay: the guidance, next to the choice.
    let pick = |xpath: &'static str| {
        let w = w.clone();
        async move {
            w.find(Locator::XPath(xpath))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
        }
    };
    pick("//label[input[@name='preset' and @value='50']]").await;
    pick("//label[input[@name='provider' and @value='alipay']]").await;
    pick("//form[contains(@action, '/pay')]//button[@type='submit']").await;
    w.accept_alert().await.unwrap();
    let error = wait_for(&w, "#provider-error").await;
    assert_eq!(
        error.text().await.unwrap(),
        "微信内无法使用支付宝，请点右上角在浏览器中打开"
    );
    shoot(&w, "25-wechat-alipay-guidance").await;

    // WeChat Pay: the JSAPI page hands the signed parameters to WeixinJSBridge.
    pick("//label[input[@name='preset' and @value='50']]").await;
    pick("//label[input[@name='provider' and @value='wechat']]").await;
    pick("//form[contains(@action, '/pay')]//button[@type='submit']").await;
    w.accept_alert().await.unwrap();
    wait_for(&w, "#jsapi").await;
    // Our deferred script has run (and listens for the bridge) once the page is complete.
    for _ in 0..100 {
        let ready = w
            .execute("return document.readyState;", vec![])
            .await
            .unwrap();
        if ready == "complete" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // WeChat's client provides the bridge and announces it; here the test plays that part.
    let stub = r#"
        window.__wxCalls = [];
        window.WeixinJSBridge = { invoke: function (name, params, cb) {
            window.__wxCalls.push({ name: name, params: params });
            cb({ err_msg: window.__wxAnswer || "get_brand_wcpay_request:cancel" });
        } };
        document.dispatchEvent(new Event("WeixinJSBridgeReady"));
        return window.__wxCalls;
    "#;
    let calls = w.execute(stub, vec![]).await.unwrap();
    assert_eq!(calls[0]["name"], "getBrandWCPayRequest", "{calls}");
    let params = &calls[0]["params"];
    assert_eq!(params["appId"], APPID);
    assert_eq!(
        params["package"],
        "prepay_id=wx201410272009395522657a690389285100"
    );
    assert_eq!(params["signType"], "RSA");
    assert!(params["paySign"].as_str().is_some_and(|s| s.len() > 100));
    assert_eq!(
        text_of(&w, "#jsapi-message").await,
        "已取消支付，可再次点击支付"
    );
    accessible(&w, "WeChat Pay page").await;
    shoot(&w, "26-wechat-jsapi-cancelled").await;

    // Paid this time: back to the door page, which follows the balance live.
    w.execute("window.__wxAnswer = 'get_brand_wcpay_request:ok';", vec![])
        .await
        .unwrap();
    pick("//button[@id='jsapi-pay']").await;
    wait_for(&w, "[data-live=balance]").await;
    assert_eq!(path_of(&w).await, format!("/t/{no}"));
    shoot(&w, "27-wechat-back-on-door").await;
    w.close().await.unwrap();
}
