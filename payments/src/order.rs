//! Creating a payment order from the door page (`POST /api/v1/pay/orders`): check the amount
//! and the organization's limits, pick the merchant, store the order, create the provider's
//! order at once and answer what the phone does next (`pay`, see PAYMENTS.md).

use chrono::{DateTime, Duration, Utc};
use domain::Money;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use store::payment::{self, MerchantId, NewOrder, PaymentStatus};
use store::StoreError;
use utoipa::ToSchema;

use crate::error::PaymentError;
use crate::merchant::MerchantKeys;
use crate::wechat::client::OrderRequest as WechatOrder;
use crate::wechat::sign::nonce;
use crate::Clients;

/// How long an order may be paid.
pub const ORDER_TTL_MINUTES: i64 = 30;
/// When the polling job first asks about an order that got no notification.
pub const FIRST_POLL_AFTER_SECS: i64 = 180;

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct OrderRequest {
    pub account_no: String,
    /// Yuan, `^\d+(\.\d{1,2})?$`.
    pub amount: String,
    /// `wechat`, `alipay` or `sandbox`.
    pub provider: String,
    pub merchant_id: Option<uuid::Uuid>,
    /// `jsapi`, `h5`, `native` or `wap`.
    pub channel: Option<String>,
    pub openid: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OrderCreated {
    pub order_id: uuid::Uuid,
    pub out_trade_no: String,
    pub amount: String,
    pub provider: String,
    /// `{"kind": "jsapi"|"h5"|"native"|"alipay_wap"|"sandbox", ...}`.
    #[schema(value_type = Object)]
    pub pay: serde_json::Value,
    pub expires_at: DateTime<Utc>,
}

fn rejected(code: &'static str, detail: impl Into<String>) -> PaymentError {
    PaymentError::rejected(code, detail)
}

/// A fresh `out_trade_no`: `WP`, the UTC time to the second and 12 random characters (28 in
/// all; WeChat allows 6 to 32 of `[0-9A-Za-z_-|*]`).
pub fn new_out_trade_no(now: DateTime<Utc>) -> String {
    format!("WP{}{}", now.format("%Y%m%d%H%M%S"), nonce(12))
}

async fn site_of(
    db: &DatabaseConnection,
    account: &store::Account,
) -> Result<Option<store::SiteId>, StoreError> {
    let unit = store::unit::get(db, account.organization_id, account.unit_id).await?;
    let building = store::building::get(db, account.organization_id, unit.building_id).await?;
    Ok(Some(building.site_id))
}

/// See the module docs. `client_ip` is the payer's address (WeChat H5 needs it).
#[tracing::instrument(skip_all)]
pub async fn create_order(
    db: &DatabaseConnection,
    clients: &Clients,
    req: OrderRequest,
    client_ip: Option<&str>,
    now: DateTime<Utc>,
) -> Result<OrderCreated, PaymentError> {
    let amount = Money::parse_amount(req.amount.trim())
        .map_err(|e| rejected("invalid_amount", e.to_string()))?;
    let amount_fen = amount
        .to_fen()
        .map_err(|e| rejected("invalid_amount", e.to_string()))?;
    let account = store::unscoped::find_by_account_no(db, &req.account_no)
        .await?
        .ok_or_else(|| rejected("account_not_found", "no account with this number"))?;
    if account.status != store::AccountStatus::Open {
        return Err(rejected("account_closed", "this account is closed"));
    }
    let org = account.organization_id;
    let limits = payment::limits(db, org).await?;
    if amount_fen < limits.min_amount_fen || amount_fen > limits.max_amount_fen {
        return Err(rejected(
            "amount_out_of_range",
            format!(
                "the amount must be between {} and {}",
                Money::from_fen(limits.min_amount_fen),
                Money::from_fen(limits.max_amount_fen)
            ),
        ));
    }
    let pending = payment::count_pending(db, org, account.id, now).await?;
    if pending >= u64::try_from(limits.max_pending_per_account).unwrap_or(0) {
        return Err(rejected(
            "too_many_pending_orders",
            "this account has too many unpaid orders; pay or wait for one to expire",
        ));
    }
    let merchant = match req.merchant_id {
        Some(id) => store::merchant::get(db, org, MerchantId::from(id))
            .await
            .map_err(|e| match e {
                StoreError::NotFound => rejected("merchant_not_found", "no such merchant"),
                other => other.into(),
            })?,
        None => store::merchant::default_for(db, org, site_of(db, &account).await?)
            .await?
            .ok_or_else(|| rejected("no_merchant", "no payment merchant is configured"))?,
    };
    if !merchant.enabled || merchant.provider != req.provider {
        return Err(rejected(
            "provider_unavailable",
            format!("{} payment is not available for this account", req.provider),
        ));
    }
    let channel = match (merchant.provider.as_str(), req.channel.as_deref()) {
        ("sandbox", _) => "sandbox",
        ("alipay", None | Some("wap")) => "wap",
        ("wechat", Some(c @ ("jsapi" | "h5" | "native"))) => c,
        ("wechat", None) if req.openid.is_some() => "jsapi",
        ("wechat", None) => "h5",
        (_, Some(other)) => {
            return Err(rejected(
                "invalid_channel",
                format!("channel {other} is not offered for {}", merchant.provider),
            ))
        }
        (other, None) => return Err(rejected("provider_unavailable", other.to_owned())),
    };
    if merchant.provider == "sandbox" && !clients.config.sandbox_enabled {
        return Err(rejected("provider_unavailable", "the sandbox is disabled"));
    }
    let expires_at = now + Duration::minutes(ORDER_TTL_MINUTES);
    let order = payment::create_order(
        db,
        org,
        NewOrder {
            account_id: account.id,
            merchant_id: merchant.id,
            provider: merchant.provider.clone(),
            channel: channel.to_owned(),
            out_trade_no: new_out_trade_no(now),
            amount_fen,
            openid: req.openid.clone(),
            expires_at,
            first_poll_at: now + Duration::seconds(FIRST_POLL_AFTER_SECS),
        },
    )
    .await?;
    let notify_url = clients.notify_url(&merchant.provider, merchant.id);
    let description = format!("电费充值 Electricity top-up {}", account.account_no);
    let pay = async {
        match clients.keys(&merchant)? {
            MerchantKeys::Sandbox(..) => Ok(serde_json::json!({
                "kind": "sandbox", "url": format!("/sandbox/pay/{}", order.id),
            })),
            MerchantKeys::Wechat(keys) => {
                clients
                    .wechat(&keys)
                    .create_order(&WechatOrder {
                        channel,
                        out_trade_no: &order.out_trade_no,
                        amount_fen,
                        description: &description,
                        notify_url: &notify_url,
                        expires_at,
                        openid: req.openid.as_deref(),
                        client_ip,
                    })
                    .await
            }
            MerchantKeys::Alipay(keys) => Ok(serde_json::json!({
                "kind": "alipay_wap",
                "url": clients.alipay(&keys).wap_pay_url(
                    &order.out_trade_no, amount_fen, &description, &notify_url, None, expires_at,
                )?,
            })),
        }
    }
    .await;
    let pay = match pay {
        Ok(pay) => pay,
        Err(e) => {
            // Nobody can pay an order the provider does not know: close it so it does not
            // count against the account's pending limit or get polled.
            payment::finish_unpaid(db, org, order.id, PaymentStatus::Closed).await?;
            return Err(e);
        }
    };
    payment::set_pay(db, org, order.id, &pay).await?;
    Ok(OrderCreated {
        order_id: order.id.into(),
        out_trade_no: order.out_trade_no,
        amount: amount.to_string(),
        provider: merchant.provider,
        pay,
        expires_at,
    })
}
