//! The door page inside WeChat: WeChat's web authorisation (redirect, `state` check, openid
//! exchange) and JSAPI payment, against a local fake of WeChat's authorisation page, its OAuth
//! API and WeChat Pay's JSAPI order endpoint (which signs its answers with a platform key, as
//! WeChat Pay does); Alipay inside WeChat shows the "open in your browser" guidance.

use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use payments::key::{private_key_pem, public_key_pem, verify_sha256};
use payments::merchant::{AlipayConfig, MerchantRequest, PlatformKeyConfig, WechatConfig};
use rsa::{RsaPrivateKey, RsaPublicKey};
use store::testing::TestDb;

use crate::support::{csrf_of, spawn_web_with, WebApp};

/// What WeChat's browser says it is.
pub const WECHAT_UA: &str = "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN";
pub const APPID: &str = "wx2421b1c4370ec43b";
const OAUTH_SECRET: &str = "oauth-secret-of-the-official-account";
/// The code the fake authorisation page hands back, and the openid it stands for.
const CODE: &str = "061Abc2w3ZxYz";
pub const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
const PLATFORM_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";

/// The fake's memory: the JSAPI order bodies it received.
#[derive(Clone, Default)]
pub struct Seen {
    pub orders: Arc<Mutex<Vec<serde_json::Value>>>,
}

pub struct Wechat {
    pub base: String,
    pub seen: Seen,
    /// The merchant's public key, to check the `paySign` the page hands to WeChat.
    pub merchant_public: RsaPublicKey,
}

async fn authorize(req: HttpRequest) -> HttpResponse {
    let q: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("scope").as_deref(), Some("snsapi_base"));
    assert_eq!(get("appid").as_deref(), Some(APPID));
    let back = format!(
        "{}?code={CODE}&state={}",
        get("redirect_uri").unwrap(),
        get("state").unwrap()
    );
    HttpResponse::Found()
        .insert_header(("Location", back))
        .finish()
}

async fn access_token(req: HttpRequest) -> HttpResponse {
    let q: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("appid") == Some(APPID)
        && get("secret") == Some(OAUTH_SECRET)
        && get("code") == Some(CODE)
        && get("grant_type") == Some("authorization_code")
    {
        HttpResponse::Ok().json(serde_json::json!({
            "access_token": "ACCESS", "expires_in": 7200, "refresh_token": "REFRESH",
            "openid": OPENID, "scope": "snsapi_base",
        }))
    } else {
        HttpResponse::Ok().json(serde_json::json!({"errcode": 40029, "errmsg": "invalid code"}))
    }
}

struct PayFake {
    seen: Seen,
    platform: RsaPrivateKey,
}

async fn jsapi(fake: web::Data<PayFake>, body: web::Bytes) -> HttpResponse {
    let order: serde_json::Value = serde_json::from_slice(&body).unwrap();
    fake.seen.orders.lock().unwrap().push(order);
    let answer =
        serde_json::json!({"prepay_id": "wx201410272009395522657a690389285100"}).to_string();
    let signed = payments::wechat::sign::sign_body(
        &fake.platform,
        PLATFORM_SERIAL,
        &answer,
        chrono::Utc::now().timestamp(),
    )
    .unwrap();
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Wechatpay-Timestamp", signed.timestamp.unwrap()))
        .insert_header(("Wechatpay-Nonce", signed.nonce.unwrap()))
        .insert_header(("Wechatpay-Signature", signed.signature.unwrap()))
        .insert_header(("Wechatpay-Serial", signed.serial.unwrap()))
        .body(answer)
}

/// Starts the fake WeChat (authorisation page, OAuth API, WeChat Pay) on a free port.
fn start_fake(platform: RsaPrivateKey) -> (String, Seen) {
    let seen = Seen::default();
    let state = web::Data::new(PayFake {
        seen: seen.clone(),
        platform,
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/connect/oauth2/authorize", web::get().to(authorize))
            .route("/sns/oauth2/access_token", web::get().to(access_token))
            .route("/v3/pay/transactions/jsapi", web::post().to(jsapi))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}"), seen)
}

/// The app with organization A paid through a WeChat merchant (with its official account's
/// secret, so the door page can authorise) and an Alipay merchant, all hosts pointed at the
/// fake. `public` makes the app's public base URL its real address (for a real browser).
pub async fn wechat_world(test_db: TestDb, public: bool) -> (WebApp, Wechat) {
    let keys = tokio::task::spawn_blocking(|| {
        let gen = || RsaPrivateKey::new(&mut rand_core_rng(), 2048).unwrap();
        (gen(), gen())
    })
    .await
    .unwrap();
    let (merchant, platform) = keys;
    let platform_public = RsaPublicKey::from(&platform);
    let merchant_public = RsaPublicKey::from(&merchant);
    let (base, seen) = start_fake(platform.clone());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fake = base.clone();
    let app = spawn_web_with(test_db, move |s| {
        s.wechat_api_base.clone_from(&fake);
        s.wechat_oauth_authorize_base.clone_from(&fake);
        s.wechat_oauth_api_base.clone_from(&fake);
        if public {
            s.http_addr = format!("127.0.0.1:{port}");
            s.public_base_url = format!("http://127.0.0.1:{port}");
        }
    })
    .await;
    let clients = app.pay_clients();
    let org = app.seeded.a.org;
    payments::merchant::create_merchant(
        &app.db,
        &clients,
        org,
        MerchantRequest {
            name: "WeChat Pay".into(),
            provider: "wechat".into(),
            wechat: Some(WechatConfig {
                mchid: "1900000109".into(),
                appid: APPID.into(),
                api_v3_key: "0123456789abcdef0123456789abcdef".into(),
                merchant_serial: "3775B6A45ACD588826D15E583A95F5DD".into(),
                merchant_private_key_pem: private_key_pem(&merchant).unwrap(),
                platform_keys: vec![PlatformKeyConfig {
                    serial: Some(PLATFORM_SERIAL.into()),
                    public_key_pem: public_key_pem(&platform_public).unwrap(),
                }],
                oauth_secret: Some(OAUTH_SECRET.into()),
            }),
            alipay: None,
            default_for: Some(serde_json::json!("organization")),
        },
    )
    .await
    .unwrap();
    payments::merchant::create_merchant(
        &app.db,
        &clients,
        org,
        MerchantRequest {
            name: "Alipay".into(),
            provider: "alipay".into(),
            wechat: None,
            alipay: Some(AlipayConfig {
                app_id: "2021000117600000".into(),
                app_private_key_pem: private_key_pem(&merchant).unwrap(),
                alipay_public_key_pem: public_key_pem(&platform_public).unwrap(),
                seller_id: None,
            }),
            default_for: None,
        },
    )
    .await
    .unwrap();
    (
        app,
        Wechat {
            base,
            seen,
            merchant_public,
        },
    )
}

fn rand_core_rng() -> rsa::rand_core::OsRng {
    rsa::rand_core::OsRng
}

fn wechat_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(WECHAT_UA)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn set_cookie<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// Undoes minijinja's HTML escaping of an attribute value.
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn inside_wechat_the_door_page_authorises_then_pays_by_jsapi() {
    for db in store::testing::backends().await {
        let (app, wx) = wechat_world(db, false).await;
        let no = app.account_no_a().await;
        let door = format!("/t/{no}");

        // An ordinary phone browser: no authorisation, the page at once.
        let (status, _) = app.get(&app.client(), &door).await;
        assert_eq!(status, 200, "{}", app.backend);

        // WeChat's browser: first to WeChat's authorisation page, silently (snsapi_base).
        let client = wechat_client();
        let res = client.get(app.url(&door)).send().await.unwrap();
        assert_eq!(res.status(), 302);
        let to = location(&res);
        assert!(
            to.starts_with(&format!("{}/connect/oauth2/authorize?appid={APPID}&redirect_uri=http%3A%2F%2Fpay.example.com%2Ft%2F{no}%2Fwechat&response_type=code&scope=snsapi_base&state=", wx.base)),
            "{to}"
        );
        assert!(to.ends_with("#wechat_redirect"));
        let state = query_param(&to, "state").unwrap();

        // A callback with a state we did not send: refused, no openid kept, no redirect loop.
        let res = client
            .get(app.url(&format!("{door}/wechat?code={CODE}&state=forged")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(set_cookie(&res, "wp_wx_openid").is_none());
        assert!(res.text().await.unwrap().contains("微信未能确认付款人身份"));

        // The real round trip, through the fake authorisation page.
        let res = client.get(app.url(&door)).send().await.unwrap();
        let to = location(&res);
        let state2 = query_param(&to, "state").unwrap();
        assert_ne!(state, state2, "a fresh state for each authorisation");
        let res = client
            .get(to.split('#').next().unwrap())
            .send()
            .await
            .unwrap();
        let back = location(&res);
        assert_eq!(
            back,
            format!("http://pay.example.com/t/{no}/wechat?code={CODE}&state={state2}")
        );
        let callback = back.replace("http://pay.example.com", &app.base);
        let res = client.get(&callback).send().await.unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), door);
        let kept = set_cookie(&res, "wp_wx_openid").unwrap().to_owned();
        assert!(
            kept.starts_with(&format!("wp_wx_openid={APPID}:{OPENID}")),
            "{kept}"
        );
        assert!(kept.contains("HttpOnly"));
        // The same code again (a reload of the callback) is not accepted twice blindly: the
        // state cookie is gone.
        let res = client.get(&callback).send().await.unwrap();
        assert_eq!(res.status(), 200);

        // Now the door page itself, with the Alipay guidance.
        let (status, html) = app.get(&client, &door).await;
        assert_eq!(status, 200);
        assert!(
            html.contains("微信内无法使用支付宝，请点右上角在浏览器中打开"),
            "{html}"
        );
        let csrf = csrf_of(&html);

        // Alipay inside WeChat: the guidance next to the choice, no order.
        let res = app
            .post(
                &client,
                &format!("{door}/pay"),
                &[
                    ("csrf", &csrf),
                    ("preset", "50"),
                    ("provider", "alipay"),
                    ("confirmed", "1"),
                ],
            )
            .await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"provider-error\""), "{html}");

        // WeChat Pay: a JSAPI order for this payer, and the page that hands it to WeChat.
        let res = app
            .post(
                &client,
                &format!("{door}/pay"),
                &[
                    ("csrf", &csrf),
                    ("preset", "50"),
                    ("provider", "wechat"),
                    ("confirmed", "1"),
                ],
            )
            .await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        let orders = wx.seen.orders.lock().unwrap().clone();
        assert_eq!(orders.len(), 1, "{html}");
        assert_eq!(orders[0]["payer"]["openid"], OPENID);
        assert_eq!(orders[0]["amount"]["total"], 5000);
        assert_eq!(orders[0]["appid"], APPID);
        assert!(html.contains("/static/tenant.js"));
        let marker = "data-params=\"";
        let start = html.find(marker).unwrap() + marker.len();
        let end = start + html[start..].find('"').unwrap();
        let params: serde_json::Value = serde_json::from_str(&unescape(&html[start..end])).unwrap();
        assert_eq!(params["appId"], APPID);
        assert_eq!(
            params["package"],
            "prepay_id=wx201410272009395522657a690389285100"
        );
        assert_eq!(params["signType"], "RSA");
        let message = format!(
            "{}\n{}\n{}\n{}\n",
            params["appId"].as_str().unwrap(),
            params["timeStamp"].as_str().unwrap(),
            params["nonceStr"].as_str().unwrap(),
            params["package"].as_str().unwrap()
        );
        assert!(
            verify_sha256(
                &wx.merchant_public,
                message.as_bytes(),
                params["paySign"].as_str().unwrap()
            ),
            "paySign is the merchant's signature"
        );

        // A code WeChat's API refuses: the door page says so, and nothing is kept.
        let other = wechat_client();
        let res = other.get(app.url(&door)).send().await.unwrap();
        let state3 = query_param(&location(&res), "state").unwrap();
        let res = other
            .get(app.url(&format!("{door}/wechat?code=expired&state={state3}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(set_cookie(&res, "wp_wx_openid").is_none());
    }
}
