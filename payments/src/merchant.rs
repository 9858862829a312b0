//! Merchant configuration: what an org admin sends (`POST /api/v1/merchants`), checked and
//! split into public configuration and sealed secrets; and the unsealed keys services use.
//! Secrets never leave this module in clear except as parsed keys, and never in answers.

use rsa::RsaPublicKey;
use serde::{Deserialize, Serialize};
use store::merchant::{Merchant, NewMerchant};
use store::{OrgId, SiteId};
use utoipa::ToSchema;

use crate::alipay::AlipayKeys;
use crate::error::PaymentError;
use crate::key::{parse_certificate, parse_private_key, parse_public_key, public_key_pem};
use crate::seal::SecretBox;
use crate::wechat::{PlatformKey, WechatKeys};
use crate::{sandbox, Clients};

/// `POST /api/v1/merchants`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct MerchantRequest {
    pub name: String,
    /// `wechat`, `alipay` or `sandbox`.
    pub provider: String,
    pub wechat: Option<WechatConfig>,
    pub alipay: Option<AlipayConfig>,
    /// `"organization"` or `{"site_id": "..."}`.
    #[schema(value_type = Option<Object>)]
    pub default_for: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct WechatConfig {
    pub mchid: String,
    pub appid: String,
    pub api_v3_key: String,
    pub merchant_serial: String,
    /// PKCS#8 PEM (`apiclient_key.pem`).
    pub merchant_private_key_pem: String,
    pub platform_keys: Vec<PlatformKeyConfig>,
    pub oauth_secret: Option<String>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct PlatformKeyConfig {
    /// Certificate serial or `PUB_KEY_ID_...`; taken from the certificate when omitted.
    pub serial: Option<String>,
    /// A certificate PEM or a public key PEM.
    pub public_key_pem: String,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct AlipayConfig {
    pub app_id: String,
    /// PKCS#8 or PKCS#1, PEM or bare base64.
    pub app_private_key_pem: String,
    pub alipay_public_key_pem: String,
    pub seller_id: Option<String>,
}

/// A merchant as the API shows it: never a secret.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MerchantView {
    pub id: uuid::Uuid,
    pub name: String,
    pub provider: String,
    pub default_for_organization: bool,
    pub default_site_id: Option<uuid::Uuid>,
    pub enabled: bool,
    /// Public identifiers (`mchid`, `appid`, `app_id`, `seller_id`, platform key serials).
    #[schema(value_type = Object)]
    pub public: serde_json::Value,
    pub notify_url: String,
}

impl MerchantView {
    pub fn new(m: &Merchant, clients: &Clients) -> Self {
        let mut public = m.config_json().unwrap_or_default();
        if let Some(keys) = public
            .get_mut("platform_keys")
            .and_then(|k| k.as_array_mut())
        {
            for k in keys.iter_mut() {
                if let Some(obj) = k.as_object_mut() {
                    obj.remove("public_key_pem");
                }
            }
        }
        if let Some(obj) = public.as_object_mut() {
            obj.remove("alipay_public_key_pem");
        }
        Self {
            id: m.id.into(),
            name: m.name.clone(),
            provider: m.provider.clone(),
            default_for_organization: m.default_for_org,
            default_site_id: m.default_site_id.map(Into::into),
            enabled: m.enabled,
            public,
            notify_url: clients.notify_url(&m.provider, m.id),
        }
    }
}

fn invalid(detail: impl Into<String>) -> PaymentError {
    PaymentError::rejected("invalid_merchant", detail)
}

fn parse_default_for(
    value: Option<&serde_json::Value>,
) -> Result<(bool, Option<SiteId>), PaymentError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok((false, None)),
        Some(serde_json::Value::String(s)) if s == "organization" => Ok((true, None)),
        Some(v) => v["site_id"]
            .as_str()
            .and_then(|s| s.parse::<SiteId>().ok())
            .map(|site| (false, Some(site)))
            .ok_or_else(|| invalid(r#"default_for is "organization" or {"site_id": "..."}"#)),
    }
}

/// Checks a request and builds the row to store (secrets sealed). Sandbox merchants get
/// their own signing key and APIv3 key (off the async threads: RSA key generation is slow).
pub async fn prepare(clients: &Clients, req: MerchantRequest) -> Result<NewMerchant, PaymentError> {
    let (default_for_org, default_site_id) = parse_default_for(req.default_for.as_ref())?;
    if req.name.trim().is_empty() {
        return Err(invalid("name is empty"));
    }
    let (config, secrets) = match req.provider.as_str() {
        "wechat" => {
            let w = req
                .wechat
                .ok_or_else(|| invalid("provider wechat needs `wechat`"))?;
            if w.api_v3_key.len() != 32 {
                return Err(invalid("api_v3_key must be 32 characters"));
            }
            parse_private_key(&w.merchant_private_key_pem)?;
            if w.platform_keys.is_empty() {
                return Err(invalid("at least one platform key is needed"));
            }
            let mut platform = Vec::new();
            for k in &w.platform_keys {
                let (serial, key) = if k.public_key_pem.contains("BEGIN CERTIFICATE") {
                    let (cert_serial, key) = parse_certificate(&k.public_key_pem)?;
                    (k.serial.clone().unwrap_or(cert_serial), key)
                } else {
                    let serial = k
                        .serial
                        .clone()
                        .ok_or_else(|| invalid("a public key PEM needs its serial"))?;
                    (serial, parse_public_key(&k.public_key_pem)?)
                };
                platform.push(serde_json::json!({
                    "serial": serial, "public_key_pem": public_key_pem(&key)?,
                }));
            }
            (
                serde_json::json!({
                    "mchid": w.mchid, "appid": w.appid, "merchant_serial": w.merchant_serial,
                    "platform_keys": platform,
                }),
                serde_json::json!({
                    "api_v3_key": w.api_v3_key,
                    "merchant_private_key_pem": w.merchant_private_key_pem,
                    "oauth_secret": w.oauth_secret,
                }),
            )
        }
        "alipay" => {
            let a = req
                .alipay
                .ok_or_else(|| invalid("provider alipay needs `alipay`"))?;
            parse_private_key(&a.app_private_key_pem)?;
            let public = parse_public_key(&a.alipay_public_key_pem)?;
            (
                serde_json::json!({
                    "app_id": a.app_id, "seller_id": a.seller_id,
                    "alipay_public_key_pem": public_key_pem(&public)?,
                }),
                serde_json::json!({"app_private_key_pem": a.app_private_key_pem}),
            )
        }
        "sandbox" => {
            if !clients.config.sandbox_enabled {
                return Err(PaymentError::rejected(
                    "sandbox_disabled",
                    "sandbox merchants are disabled in this deployment",
                ));
            }
            sandbox::new_merchant_config().await?
        }
        other => return Err(invalid(format!("unknown provider {other}"))),
    };
    Ok(NewMerchant {
        name: req.name.trim().to_owned(),
        provider: req.provider,
        config,
        secrets_sealed: clients.secrets.seal(secrets.to_string().as_bytes())?,
        default_for_org,
        default_site_id,
    })
}

/// Creates a merchant for the organization.
pub async fn create_merchant(
    db: &sea_orm::DatabaseConnection,
    clients: &Clients,
    org: OrgId,
    req: MerchantRequest,
) -> Result<Merchant, PaymentError> {
    let new = prepare(clients, req).await?;
    Ok(store::merchant::create(db, org, new).await?)
}

/// A merchant's keys, unsealed.
#[derive(Clone, Debug)]
pub enum MerchantKeys {
    Wechat(WechatKeys),
    Alipay(AlipayKeys),
    /// WeChat v3 keys plus the sandbox's own platform signing key.
    Sandbox(WechatKeys, Box<rsa::RsaPrivateKey>),
}

fn text(v: &serde_json::Value, key: &str) -> Result<String, PaymentError> {
    v[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| PaymentError::Key(format!("merchant configuration lacks {key}")))
}

impl MerchantKeys {
    pub fn load(merchant: &Merchant, secrets: &SecretBox) -> Result<Self, PaymentError> {
        let config = merchant.config_json()?;
        let sealed: serde_json::Value =
            serde_json::from_slice(&secrets.open(&merchant.secrets_sealed)?)
                .map_err(|e| PaymentError::Seal(e.to_string()))?;
        let platform_keys = || -> Result<Vec<PlatformKey>, PaymentError> {
            config["platform_keys"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|k| {
                    Ok(PlatformKey {
                        serial: text(k, "serial")?,
                        key: parse_public_key(&text(k, "public_key_pem")?)?,
                    })
                })
                .collect()
        };
        match merchant.provider.as_str() {
            "wechat" => Ok(Self::Wechat(WechatKeys {
                mchid: text(&config, "mchid")?,
                appid: text(&config, "appid")?,
                merchant_serial: text(&config, "merchant_serial")?,
                merchant_key: Some(parse_private_key(&text(
                    &sealed,
                    "merchant_private_key_pem",
                )?)?),
                platform_keys: platform_keys()?,
                api_v3_key: text(&sealed, "api_v3_key")?.into_bytes(),
                oauth_secret: sealed["oauth_secret"].as_str().map(str::to_owned),
            })),
            "sandbox" => Ok(Self::Sandbox(
                WechatKeys {
                    mchid: text(&config, "mchid")?,
                    appid: text(&config, "appid")?,
                    merchant_serial: text(&config, "merchant_serial")?,
                    merchant_key: None,
                    platform_keys: platform_keys()?,
                    api_v3_key: text(&sealed, "api_v3_key")?.into_bytes(),
                    oauth_secret: None,
                },
                Box::new(parse_private_key(&text(
                    &sealed,
                    "platform_private_key_pem",
                )?)?),
            )),
            "alipay" => Ok(Self::Alipay(AlipayKeys {
                app_id: text(&config, "app_id")?,
                app_private_key: parse_private_key(&text(&sealed, "app_private_key_pem")?)?,
                alipay_public_key: parse_public_key(&text(&config, "alipay_public_key_pem")?)?,
                seller_id: config["seller_id"].as_str().map(str::to_owned),
            })),
            other => Err(PaymentError::Key(format!("unknown provider {other}"))),
        }
    }

    /// The WeChat v3 keys (WeChat and sandbox merchants).
    pub fn wechat(&self) -> Option<&WechatKeys> {
        match self {
            Self::Wechat(k) | Self::Sandbox(k, _) => Some(k),
            Self::Alipay(_) => None,
        }
    }
}

/// The public key a platform serial names (tests, diagnostics).
pub fn platform_public_key(keys: &WechatKeys, serial: &str) -> Option<RsaPublicKey> {
    keys.platform_key(serial).cloned()
}
