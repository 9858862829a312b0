//! The sandbox provider's pay page: `GET /sandbox/pay/{order_id}` shows the order with a Pay
//! button; `POST` makes the sandbox sign a `TRANSACTION.SUCCESS` notification exactly as WeChat
//! v3 does (its own RSA key and APIv3 key) and post it to
//! `/api/v1/pay/notify/sandbox/{merchant_id}` on this server, so the demo runs the production
//! notification path. Off (404) when sandbox payments are disabled.

use actix_web::{get, post, web, HttpResponse};
use domain::Money;
use payments::merchant::MerchantKeys;
use store::payment::{PaymentOrder, PaymentStatus};

use crate::error::ApiError;
use crate::startup::AppState;

fn not_found() -> ApiError {
    ApiError::NotFound {
        code: "order_not_found",
        what: "order",
    }
}

async fn sandbox_order(state: &AppState, id: uuid::Uuid) -> Result<PaymentOrder, ApiError> {
    if !state.pay.clients.config.sandbox_enabled {
        return Err(not_found());
    }
    let order = store::payment::get_public(&state.db, id.into())
        .await
        .map_err(|_| not_found())?;
    if order.provider != "sandbox" {
        return Err(not_found());
    }
    Ok(order)
}

/// The door page of the order's account, where the payer goes back to watch the balance.
async fn door_page(state: &AppState, order: &PaymentOrder) -> Result<String, ApiError> {
    let account = store::account::get(&state.db, order.organization_id, order.account_id).await?;
    Ok(format!("/t/{}", account.account_no))
}

fn page_html(order: &PaymentOrder, message: Option<&str>, back: &str) -> String {
    let amount = Money::from_fen(order.amount_fen);
    let (status_zh, status_en) = match order.status {
        PaymentStatus::Pending => ("待支付", "Waiting for payment"),
        PaymentStatus::Paid => ("已支付", "Paid"),
        PaymentStatus::Closed => ("已关闭", "Closed"),
        PaymentStatus::Expired => ("已过期", "Expired"),
    };
    let button = if order.status == PaymentStatus::Paid {
        String::new()
    } else {
        format!(
            r#"<form method="post" action="/sandbox/pay/{id}"><button type="submit" id="pay">支付 ¥{amount} · Pay</button></form>"#,
            id = order.id
        )
    };
    let message = message
        .map(|m| format!(r#"<p class="msg" id="message">{m}</p>"#))
        .unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>沙箱支付 · Sandbox payment</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}
.amount{{font-size:2.5rem;margin:.5rem 0}}button{{font-size:1.2rem;padding:.8rem 2rem;background:#07c160;color:#fff;border:0;border-radius:.4rem}}
.note{{color:#888;font-size:.85rem}}</style></head>
<body><h1>沙箱支付 <small>Sandbox payment</small></h1>
<p class="note">测试环境：不会产生真实扣款。Test environment: no real money moves.</p>
<p class="amount">¥{amount}</p>
<p>订单号 Order: <code>{out_trade_no}</code></p>
<p>状态 Status: <strong id="status" data-status="{status_code}">{status_zh} · {status_en}</strong></p>
{message}{button}
<p><a id="back" href="{back}">返回账户 · Back to the account</a></p>
</body></html>"#,
        out_trade_no = order.out_trade_no,
        status_code = serde_json::to_value(order.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    )
}

/// The sandbox pay page (HTML).
#[get("/sandbox/pay/{order_id}")]
pub async fn page(
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let order = sandbox_order(&state, path.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page_html(&order, None, &door_page(&state, &order).await?)))
}

/// Pays the order in the sandbox: signs the notification and delivers it to our notify URL.
#[post("/sandbox/pay/{order_id}")]
pub async fn pay(
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let order = sandbox_order(&state, path.into_inner()).await?;
    let merchant =
        store::merchant::get(&state.db, order.organization_id, order.merchant_id).await?;
    let MerchantKeys::Sandbox(keys, platform_key) = state
        .pay
        .clients
        .keys(&merchant)
        .map_err(|e| ApiError::Internal(e.into()))?
    else {
        return Err(not_found());
    };
    // One transaction id per order: paying twice re-sends the same payment, as a provider
    // retry would, and credits once.
    let transaction_id = format!("sandbox{}", order.id.0.simple());
    let (headers, body) = payments::sandbox::paid_notification(
        &keys,
        &platform_key,
        &order,
        &transaction_id,
        chrono::Utc::now(),
    )
    .map_err(|e| ApiError::Internal(e.into()))?;
    let url = format!(
        "{}/api/v1/pay/notify/sandbox/{}",
        state.pay.self_base, merchant.id
    );
    let mut request = state
        .pay
        .clients
        .http
        .post(url)
        .header("Content-Type", "application/json");
    for (name, value) in [
        ("Wechatpay-Timestamp", &headers.timestamp),
        ("Wechatpay-Nonce", &headers.nonce),
        ("Wechatpay-Signature", &headers.signature),
        ("Wechatpay-Serial", &headers.serial),
        ("Wechatpay-Signature-Type", &headers.signature_type),
    ] {
        if let Some(value) = value {
            request = request.header(name, value.as_str());
        }
    }
    let delivered = request.body(body).send().await;
    let message = match delivered {
        Ok(res) if res.status().is_success() => "支付成功 · Payment sent".to_owned(),
        Ok(res) => format!("通知被拒绝 · Notification refused ({})", res.status()),
        Err(e) => {
            tracing::warn!(error = %e, "sandbox could not deliver its notification");
            "通知发送失败 · Notification could not be delivered".to_owned()
        }
    };
    let order = store::payment::get_public(&state.db, order.id).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page_html(
            &order,
            Some(&message),
            &door_page(&state, &order).await?,
        )))
}
