//! Local fakes of the WeChat Pay v3 API and the Alipay gateway. They verify every request's
//! signature with the merchant's public key (refusing with 401 / an error node otherwise),
//! keep orders in memory, and sign their answers with the platform / Alipay key as the real
//! providers do.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use payments::alipay::sign::{parse_form, signing_content};
use payments::key::{sign_sha256, verify_sha256};
use payments::wechat::sign::sign_body;
use rsa::{RsaPrivateKey, RsaPublicKey};

pub const PLATFORM_SERIAL: &str = "PUB_KEY_ID_FAKE0001";

/// Test keys (1024 bits: the code does not depend on the size, and debug builds are slow).
pub struct Keys {
    pub merchant: RsaPrivateKey,
    pub platform: RsaPrivateKey,
    pub app: RsaPrivateKey,
    pub alipay: RsaPrivateKey,
}

static KEYS: tokio::sync::OnceCell<Arc<Keys>> = tokio::sync::OnceCell::const_new();

pub async fn keys() -> Arc<Keys> {
    KEYS.get_or_init(|| async {
        let gen = || {
            tokio::task::spawn_blocking(|| {
                RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap()
            })
        };
        let (m, p, a, l) = (gen(), gen(), gen(), gen());
        Arc::new(Keys {
            merchant: m.await.unwrap(),
            platform: p.await.unwrap(),
            app: a.await.unwrap(),
            alipay: l.await.unwrap(),
        })
    })
    .await
    .clone()
}

/// What the fakes saw and what they will answer.
#[derive(Default)]
pub struct FakeState {
    /// out_trade_no → (total fen, trade state / status).
    pub orders: HashMap<String, (i64, String)>,
    /// Paths of verified requests, in order.
    pub requests: Vec<String>,
    pub refunds: Vec<serde_json::Value>,
}

pub struct Fake {
    pub base: String,
    pub state: Arc<Mutex<FakeState>>,
}

impl Fake {
    pub fn set_state(&self, out_trade_no: &str, state: &str) {
        let mut s = self.state.lock().unwrap();
        let entry = s
            .orders
            .get_mut(out_trade_no)
            .expect("order known to the fake");
        state.clone_into(&mut entry.1);
    }
}

struct Ctx {
    keys: Arc<Keys>,
    state: Arc<Mutex<FakeState>>,
}

fn wechat_authorized(ctx: &Ctx, req: &HttpRequest, body: &str) -> bool {
    let Some(auth) = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(fields) = auth.strip_prefix("WECHATPAY2-SHA256-RSA2048 ") else {
        return false;
    };
    let field = |name: &str| {
        fields.split(',').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"').to_owned())
        })
    };
    let (Some(ts), Some(nonce), Some(sig)) =
        (field("timestamp"), field("nonce_str"), field("signature"))
    else {
        return false;
    };
    let path = req.uri().path_and_query().map_or("", |p| p.as_str());
    let message = format!("{}\n{path}\n{ts}\n{nonce}\n{body}\n", req.method());
    field("mchid").as_deref() == Some("1900000109")
        && verify_sha256(
            &RsaPublicKey::from(&ctx.keys.merchant),
            message.as_bytes(),
            &sig,
        )
}

fn signed_json(ctx: &Ctx, status: u16, value: &serde_json::Value) -> HttpResponse {
    let body = value.to_string();
    let h = sign_body(
        &ctx.keys.platform,
        PLATFORM_SERIAL,
        &body,
        chrono::Utc::now().timestamp(),
    )
    .unwrap();
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .insert_header(("Wechatpay-Timestamp", h.timestamp.unwrap()))
        .insert_header(("Wechatpay-Nonce", h.nonce.unwrap()))
        .insert_header(("Wechatpay-Signature", h.signature.unwrap()))
        .insert_header(("Wechatpay-Serial", h.serial.unwrap()))
        .content_type("application/json")
        .body(body)
}

async fn wechat(ctx: web::Data<Ctx>, req: HttpRequest, body: String) -> HttpResponse {
    if !wechat_authorized(&ctx, &req, &body) {
        return HttpResponse::Unauthorized()
            .json(serde_json::json!({"code": "SIGN_ERROR", "message": "bad signature"}));
    }
    let path = req.uri().path().to_owned();
    ctx.state.lock().unwrap().requests.push(path.clone());
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    if let Some(kind) = path.strip_prefix("/v3/pay/transactions/") {
        if let Some(no) = kind.strip_prefix("out-trade-no/") {
            let found = ctx.state.lock().unwrap().orders.get(no).cloned();
            return match found {
                None => signed_json(
                    &ctx,
                    404,
                    &serde_json::json!({"code": "ORDER_NOT_EXIST", "message": "no"}),
                ),
                Some((total, state)) => signed_json(
                    &ctx,
                    200,
                    &serde_json::json!({
                        "mchid": "1900000109", "appid": "wxd678efh567hg6787", "out_trade_no": no,
                        "transaction_id": format!("42000{no}"), "trade_state": state,
                        "amount": {"total": total, "currency": "CNY"},
                    }),
                ),
            };
        }
        let no = json["out_trade_no"].as_str().unwrap_or_default().to_owned();
        let total = json["amount"]["total"].as_i64().unwrap_or_default();
        ctx.state
            .lock()
            .unwrap()
            .orders
            .insert(no.clone(), (total, "NOTPAY".into()));
        let answer = match kind {
            "jsapi" => serde_json::json!({"prepay_id": format!("wx{no}")}),
            "h5" => {
                serde_json::json!({"h5_url": format!("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx{no}")})
            }
            _ => serde_json::json!({"code_url": format!("weixin://wxpay/bizpayurl?pr={no}")}),
        };
        return signed_json(&ctx, 200, &answer);
    }
    if path == "/v3/refund/domestic/refunds" {
        ctx.state.lock().unwrap().refunds.push(json.clone());
        return signed_json(
            &ctx,
            200,
            &serde_json::json!({"refund_id": "50000000382019052709732678859", "status": "PROCESSING", "out_refund_no": json["out_refund_no"]}),
        );
    }
    HttpResponse::NotFound().finish()
}

async fn alipay(ctx: web::Data<Ctx>, body: web::Bytes) -> HttpResponse {
    let (params, _) = parse_form(&body).unwrap();
    let content = signing_content(&params);
    let app_public = RsaPublicKey::from(&ctx.keys.app);
    let method = params.get("method").cloned().unwrap_or_default();
    let node_name = format!("{}_response", method.replace('.', "_"));
    if !verify_sha256(
        &app_public,
        content.as_bytes(),
        params.get("sign").map_or("", String::as_str),
    ) {
        return HttpResponse::Ok().body(format!(r#"{{"{node_name}":{{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature"}}}}"#));
    }
    ctx.state.lock().unwrap().requests.push(method.clone());
    let biz: serde_json::Value =
        serde_json::from_str(params.get("biz_content").map_or("{}", String::as_str)).unwrap();
    let no = biz["out_trade_no"].as_str().unwrap_or_default().to_owned();
    let found = ctx.state.lock().unwrap().orders.get(&no).cloned();
    let node = match (method.as_str(), found) {
        ("alipay.trade.query", Some((total, status))) => serde_json::json!({
            "code": "10000", "msg": "Success", "trade_no": format!("2026{no}"), "out_trade_no": no,
            "trade_status": status, "total_amount": domain::Money::from_fen(total).to_string(),
        }),
        ("alipay.trade.refund", Some(_)) => {
            ctx.state.lock().unwrap().refunds.push(biz.clone());
            serde_json::json!({"code": "10000", "msg": "Success", "fund_change": "Y", "out_trade_no": no, "refund_fee": biz["refund_amount"]})
        }
        _ => {
            serde_json::json!({"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"})
        }
    };
    let node_text = node.to_string();
    let sign = sign_sha256(&ctx.keys.alipay, node_text.as_bytes()).unwrap();
    HttpResponse::Ok()
        .content_type("text/html;charset=utf-8")
        .body(format!(r#"{{"{node_name}":{node_text},"sign":"{sign}"}}"#))
}

/// Starts both fakes on one port: WeChat under `/v3/...`, Alipay at `/gateway.do`.
pub async fn start() -> Fake {
    let keys = keys().await;
    let state = Arc::new(Mutex::new(FakeState::default()));
    let data = web::Data::new(Ctx {
        keys,
        state: state.clone(),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/gateway.do", web::post().to(alipay))
            .default_service(web::to(wechat))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    Fake {
        base: format!("http://127.0.0.1:{port}"),
        state,
    }
}

/// Seeds an Alipay order known to the fake (Alipay creates it when the payer opens the URL).
pub fn alipay_order(fake: &Fake, out_trade_no: &str, fen: i64) {
    fake.state
        .lock()
        .unwrap()
        .orders
        .insert(out_trade_no.to_owned(), (fen, "WAIT_BUYER_PAY".into()));
}

/// The query parameters of a URL, decoded.
pub fn query_params(url: &str) -> BTreeMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    parse_form(query.as_bytes()).unwrap().0
}
