//! [`Clients`]: everything that talks to providers, built once per process (api and worker)
//! from configuration and handed to services and jobs.

use std::time::Duration;

use crate::alipay::client::{AlipayClient, DEFAULT_GATEWAY};
use crate::error::PaymentError;
use crate::merchant::MerchantKeys;
use crate::seal::SecretBox;
use crate::wechat::client::{WechatClient, DEFAULT_API_BASE};
use store::merchant::Merchant;
use store::payment::MerchantId;

/// Provider endpoints and switches (`WATTPAY_WECHAT_API_BASE`, `WATTPAY_ALIPAY_GATEWAY`, ...).
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    pub wechat_api_base: String,
    pub alipay_gateway: String,
    /// Where providers reach us: notify URLs are `{public_base_url}/api/v1/pay/notify/...`.
    pub public_base_url: String,
    /// Sandbox merchants may be created and paid (off in production configuration).
    pub sandbox_enabled: bool,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            wechat_api_base: DEFAULT_API_BASE.to_owned(),
            alipay_gateway: DEFAULT_GATEWAY.to_owned(),
            public_base_url: "http://localhost:8080".to_owned(),
            sandbox_enabled: true,
        }
    }
}

/// Provider clients, the HTTP client and the merchant-secret box.
#[derive(Clone, Debug)]
pub struct Clients {
    pub http: reqwest::Client,
    pub config: ProviderConfig,
    pub secrets: SecretBox,
}

impl Clients {
    pub fn new(config: ProviderConfig, secrets: SecretBox) -> Result<Self, PaymentError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| PaymentError::Provider(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            config,
            secrets,
        })
    }

    /// The URL a provider posts notifications for this merchant to.
    pub fn notify_url(&self, provider: &str, merchant: MerchantId) -> String {
        format!(
            "{}/api/v1/pay/notify/{provider}/{merchant}",
            self.config.public_base_url.trim_end_matches('/')
        )
    }

    /// Unseals a merchant's keys.
    pub fn keys(&self, merchant: &Merchant) -> Result<MerchantKeys, PaymentError> {
        MerchantKeys::load(merchant, &self.secrets)
    }

    pub fn wechat<'a>(&'a self, keys: &'a crate::wechat::WechatKeys) -> WechatClient<'a> {
        WechatClient {
            http: &self.http,
            base: &self.config.wechat_api_base,
            keys,
        }
    }

    pub fn alipay<'a>(&'a self, keys: &'a crate::alipay::AlipayKeys) -> AlipayClient<'a> {
        AlipayClient {
            http: &self.http,
            gateway: &self.config.alipay_gateway,
            keys,
        }
    }
}
