//! The API's `Settings`: built by the binary from an optional TOML file plus `WATTPAY_*`
//! environment variables, or directly by tests (port 0, fresh database).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// Everything the API process needs to start. Field names are the TOML keys; the environment
/// variable of a field is `WATTPAY_` + its name in upper case (`WATTPAY_HTTP_ADDR`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Address to listen on, `host:port`. Port 0 picks a free one (tests).
    pub http_addr: String,
    /// Public base URL of this deployment (payment notify URLs, QR codes).
    pub public_base_url: String,
    /// Database URL; `None` means the SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// Where the embedded defaults keep their files (SQLite, outboxes, generated secrets).
    pub data_dir: PathBuf,
    /// HMAC secret for access tokens. `None`: generated once and kept in `data_dir`.
    pub jwt_secret: Option<SecretString>,
    /// Encrypts merchant secrets at rest. `None`: generated once and kept in `data_dir`.
    pub secret_key: Option<SecretString>,
    /// Lifetime of an access token, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token, in seconds.
    pub refresh_token_ttl_secs: u64,
    /// WeChat Pay API v3 base URL (tests point it at a local fake).
    pub wechat_api_base: String,
    /// Alipay gateway URL (tests point it at a local fake).
    pub alipay_gateway: String,
    /// Host of WeChat's web authorisation page (网页授权) the door page sends WeChat users to.
    pub wechat_oauth_authorize_base: String,
    /// Host of WeChat's OAuth API that turns the authorisation `code` into the payer's openid.
    pub wechat_oauth_api_base: String,
    /// Whether sandbox merchants may be created and paid (turn off in production).
    pub sandbox_payments: bool,
    /// Lifetime of a tenant's access token (phone sign-in), in seconds.
    pub tenant_token_ttl_secs: u64,
    /// How long a tenant's one-time code is valid, in seconds.
    pub otp_ttl_secs: u64,
    /// Wrong guesses a one-time code survives.
    pub otp_max_attempts: u32,
    /// The window of the sign-in and one-time-code rate limits, in seconds.
    pub rate_limit_window_secs: u64,
    /// Sign-in and code requests per client address within the window.
    pub rate_limit_per_address: u32,
    /// Failed sign-ins per email within the window.
    pub rate_limit_per_account: u32,
    /// One-time codes sent per phone within the window.
    pub otp_sends_per_phone: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// The workers' MQTT username (ACL export, EMQX hook); `None` means `wattpay-worker`.
    pub mqtt_username: Option<String>,
    /// The workers' MQTT password: the EMQX hook accepts it and the platform passwd export
    /// hashes it. `None`: the workers' user is refused by the hook and left out of the export.
    pub mqtt_password: Option<SecretString>,
    /// Shared secret EMQX sends in `x-wattpay-hook-secret` to `/api/v1/mqtt/{auth,acl}`;
    /// `None` turns the hooks off.
    pub mqtt_hook_secret: Option<SecretString>,
    /// Bearer token `/metrics` asks for; `None` serves it to whoever reaches the port.
    pub metrics_token: Option<SecretString>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            http_addr: "127.0.0.1:8080".to_owned(),
            public_base_url: "http://localhost:8080".to_owned(),
            database_url: None,
            data_dir: PathBuf::from("wattpay-data"),
            jwt_secret: None,
            secret_key: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            wechat_api_base: payments::wechat::client::DEFAULT_API_BASE.to_owned(),
            alipay_gateway: payments::alipay::client::DEFAULT_GATEWAY.to_owned(),
            wechat_oauth_authorize_base: payments::wechat::oauth::DEFAULT_AUTHORIZE_BASE.to_owned(),
            wechat_oauth_api_base: payments::wechat::oauth::DEFAULT_OAUTH_BASE.to_owned(),
            sandbox_payments: true,
            tenant_token_ttl_secs: 24 * 3600,
            otp_ttl_secs: 5 * 60,
            otp_max_attempts: 5,
            rate_limit_window_secs: 10 * 60,
            rate_limit_per_address: 100,
            rate_limit_per_account: 10,
            otp_sends_per_phone: 5,
            trust_forwarded_for: false,
            mqtt_username: None,
            mqtt_password: None,
            mqtt_hook_secret: None,
            metrics_token: None,
        }
    }
}

impl Settings {
    /// The database URL to use: the configured one, else the SQLite file in the data directory.
    pub fn effective_database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| store::sqlite_url(&self.data_dir))
    }

    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_secs)
    }

    pub fn refresh_token_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_token_ttl_secs)
    }
}
