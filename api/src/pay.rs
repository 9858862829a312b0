//! The API side of payments: the process-wide [`PayState`] (provider clients, the sealed-secret
//! key, the public order rate limit) and the mapping of payment errors to problems.
//!
//! `POST /api/v1/pay/orders` is public (the door page calls it): a fixed-window limit per
//! client address keeps anyone from flooding providers with orders.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use anyhow::Context as _;
use payments::{Clients, PaymentError, ProviderConfig, SecretBox};

use crate::config::Settings;
use crate::error::{ApiError, Problem};

/// Orders one client address may create per window.
pub const ORDERS_PER_WINDOW: u32 = 20;
pub const ORDER_WINDOW: Duration = Duration::from_secs(60);

/// Payment state shared by every request.
pub struct PayState {
    pub clients: Clients,
    /// This server itself (the sandbox posts its notifications here, like a provider would).
    pub self_base: String,
    limiter: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl PayState {
    /// Builds the clients from the settings; the secret key is generated in the data directory
    /// when `WATTPAY_SECRET_KEY` is unset.
    pub fn new(settings: &Settings, port: u16) -> anyhow::Result<Self> {
        let secret = match &settings.secret_key {
            Some(secret) => secret.clone(),
            None => crate::startup::load_or_create_secret(&settings.data_dir, "secret_key")?,
        };
        let secrets = SecretBox::new(&secret).context("WATTPAY_SECRET_KEY")?;
        let clients = Clients::new(
            ProviderConfig {
                wechat_api_base: settings.wechat_api_base.clone(),
                alipay_gateway: settings.alipay_gateway.clone(),
                public_base_url: settings.public_base_url.clone(),
                sandbox_enabled: settings.sandbox_payments,
            },
            secrets,
        )?;
        Ok(Self {
            clients,
            self_base: format!("http://127.0.0.1:{port}"),
            limiter: Mutex::new(HashMap::new()),
        })
    }

    /// Counts an order from `ip`; `false` once the window's allowance is used up.
    pub fn allow_order(&self, ip: Option<IpAddr>) -> bool {
        let Some(ip) = ip else { return true };
        let now = Instant::now();
        let Ok(mut map) = self.limiter.lock() else {
            return true;
        };
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < ORDER_WINDOW);
        }
        let entry = map.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= ORDER_WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= ORDERS_PER_WINDOW
    }
}

/// `429 rate_limited` as a problem (the shared `ApiError` has no such variant).
pub fn rate_limited() -> HttpResponse {
    HttpResponse::build(StatusCode::TOO_MANY_REQUESTS)
        .content_type("application/problem+json")
        .insert_header(("Retry-After", ORDER_WINDOW.as_secs().to_string()))
        .json(Problem {
            type_: "about:blank",
            title: "Too many requests".to_owned(),
            status: 429,
            detail: Some("too many payment orders from this address; try again in a minute".into()),
            code: "rate_limited",
            errors: Vec::new(),
        })
}

/// A payment error as the API answers it.
pub fn api_error(e: PaymentError) -> ApiError {
    match e {
        PaymentError::Rejected { code, detail } => match code {
            "account_not_found" => ApiError::NotFound {
                code,
                what: "account",
            },
            "merchant_not_found" => ApiError::NotFound {
                code,
                what: "merchant",
            },
            "order_not_found" | "refund_not_found" => ApiError::NotFound {
                code,
                what: "payment",
            },
            "account_closed" => ApiError::Conflict { code, detail },
            _ => ApiError::BadRequest { code, detail },
        },
        PaymentError::Store(e) => e.into(),
        PaymentError::Provider(detail) => ApiError::Unavailable {
            code: "provider_unavailable",
            detail: format!("the payment provider could not create the order: {detail}"),
        },
        PaymentError::Key(detail) => ApiError::BadRequest {
            code: "invalid_key",
            detail,
        },
        other => ApiError::Internal(anyhow::Error::new(other)),
    }
}
