//! The worker's settings: a TOML file (the whole file, or its `[worker]` table when it is the
//! shared `wattpay --config` file), then `WATTPAY_*` environment variables (`WATTPAY_` + the key
//! in upper case; `notify.smtp_*` and `notify.sms_webhook_url` without the `NOTIFY_` part, e.g.
//! `WATTPAY_SMTP_URL`, the other `notify` keys as `WATTPAY_NOTIFY_*`; provider secrets), then
//! defaults that run everything embedded (SQLite in `data_dir`, the in-process live cache, the
//! embedded MQTT broker, messages written to `data_dir/outbox`). Tests build the struct directly.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// Where messages to people go.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// SMTP server: `smtp://host:port` (plain, STARTTLS when offered), `smtp://host?tls=required`
    /// (STARTTLS or fail) or `smtps://host:465` (TLS from the start). Unset: mail is written to
    /// the outbox folder.
    pub smtp_url: Option<String>,
    pub smtp_from: Option<String>,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<SecretString>,
    /// A PEM file of extra root certificates the SMTP server's certificate may chain to (a
    /// private CA); the public roots are always trusted.
    pub smtp_ca_file: Option<PathBuf>,
    /// A generic HTTP SMS webhook (JSON `{"to","text"}` POSTed). Unset: SMS go to the outbox
    /// folder (or the configured provider).
    pub sms_webhook_url: Option<String>,
    /// SMS through Aliyun SMS (Dysmsapi `SendSms`).
    pub aliyun_sms: Option<AliyunSmsSettings>,
    /// SMS through Tencent Cloud SMS (`SendSms`, API 2021-01-11).
    pub tencent_sms: Option<TencentSmsSettings>,
    /// WeChat official-account template messages to tenants bound by openid.
    pub wechat: Option<WechatSettings>,
    /// Language when the tenant has not chosen one: `zh-en` (default: Chinese, then English),
    /// `zh` or `en`.
    #[serde(default)]
    pub language: Option<String>,
    /// Quiet hours in the site's local time, `HH:MM-HH:MM` (default `22:00-08:00`; `off`
    /// disables them). Non-urgent messages wait until they end.
    pub quiet_hours: Option<String>,
    /// Local time of the daily low-balance reminder, `HH:MM` (default `10:00`; `off` disables
    /// it).
    pub daily_reminder_at: Option<String>,
    /// Attempts of a message before it is recorded as failed for good (default 10; retries
    /// back off exponentially, 2 s to 17 minutes).
    pub max_attempts: Option<i32>,
}

/// Provider-side templates per notification kind (`low_balance`, `trip_pending`, `tripped`,
/// `restored`, `topup_credited`, `daily_low_balance`); a key `kind.en` is used for tenants
/// who chose English.
pub type TemplateIds = std::collections::BTreeMap<String, String>;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliyunSmsSettings {
    pub access_key_id: String,
    /// Or `WATTPAY_ALIYUN_SMS_ACCESS_KEY_SECRET`.
    #[serde(default)]
    pub access_key_secret: Option<SecretString>,
    pub sign_name: String,
    /// Default `https://dysmsapi.aliyuncs.com`.
    pub base_url: Option<String>,
    pub templates: TemplateIds,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TencentSmsSettings {
    pub secret_id: String,
    /// Or `WATTPAY_TENCENT_SMS_SECRET_KEY`.
    #[serde(default)]
    pub secret_key: Option<SecretString>,
    pub sdk_app_id: String,
    pub sign_name: String,
    /// Default `ap-guangzhou`.
    pub region: Option<String>,
    /// Default `https://sms.tencentcloudapi.com`.
    pub base_url: Option<String>,
    pub templates: TemplateIds,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatSettings {
    pub appid: String,
    /// Or `WATTPAY_WECHAT_MP_SECRET`.
    #[serde(default)]
    pub secret: Option<SecretString>,
    /// Default `https://api.weixin.qq.com`.
    pub base_url: Option<String>,
    pub templates: TemplateIds,
    /// The template's data keys per parameter (`first`, `account_no`, `balance`, `amount`,
    /// `remark`); defaults `first`, `keyword1`, `keyword2`, `keyword3`, `remark`.
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `postgres://...` or `sqlite://...`; unset: SQLite in `data_dir`.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    /// Redis for the live cache; unset: the in-process cache.
    pub redis_url: Option<String>,
    /// Prefix of Redis keys and channels (tests use a unique one).
    pub redis_prefix: String,
    /// `mqtt://host:port` or `mqtts://host:port` (TLS, port 8883 by default); unset: start the
    /// embedded broker on `embedded_broker_port`.
    pub mqtt_url: Option<String>,
    /// PEM file of the CA that signed the broker's certificate (`mqtts://` only); unset: the
    /// Mozilla root certificates compiled in (webpki-roots).
    pub mqtt_ca_file: Option<PathBuf>,
    /// Port of the embedded broker (0: any free port).
    pub embedded_broker_port: u16,
    /// Stable per worker: the broker keeps its persistent session (and its share of the shared
    /// subscription) under this id.
    pub worker_id: String,
    /// The shared-subscription group all workers of a deployment join (tests use their own).
    pub mqtt_share_group: String,
    /// MQTT 5 session expiry in seconds: how long the broker queues for a stopped worker.
    pub mqtt_session_expiry_secs: u32,
    /// MQTT protocol: 5 (default) or 4 (3.1.1, session kept until the client returns).
    pub mqtt_version: u8,
    pub mqtt_username: Option<String>,
    pub mqtt_password: Option<SecretString>,
    /// Largest payload accepted (bigger ones are refused by the client, the worker stays up).
    pub mqtt_max_packet_bytes: usize,
    /// Without an ack in this time a command is sent again (same seq).
    #[serde(with = "secs")]
    pub command_timeout: Duration,
    /// Sends of one command before it fails and a work order is opened.
    pub command_attempts: i32,
    /// How long an automatic command stays valid.
    #[serde(with = "secs")]
    pub command_expiry: Duration,
    /// How often the outbox is polled (a top-up reaches the relay within about this).
    #[serde(with = "millis")]
    pub outbox_poll: Duration,
    /// How often the schedules run (`tick`).
    #[serde(with = "secs")]
    pub tick_interval: Duration,
    /// A meter without a good reading for this long gets a work order.
    #[serde(with = "secs")]
    pub meter_offline_after: Duration,
    /// Restore SLA used when nothing more specific is configured.
    #[serde(with = "secs")]
    pub restore_sla: Duration,
    /// Trip windows: `always` or `working_hours` (not at night, weekends or holidays).
    pub trip_windows: String,
    /// The API's public address: links in messages lead to its door page (`/t/{account_no}`).
    pub public_base_url: String,
    pub notify: NotifySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: None,
            data_dir: PathBuf::from("./wattpay-data"),
            redis_url: None,
            redis_prefix: "wattpay:".into(),
            mqtt_url: None,
            mqtt_ca_file: None,
            embedded_broker_port: 1883,
            worker_id: "wattpay-worker-1".into(),
            mqtt_share_group: "wattpay-workers".into(),
            mqtt_session_expiry_secs: 60,
            mqtt_version: 5,
            mqtt_username: None,
            mqtt_password: None,
            mqtt_max_packet_bytes: 4 * 1024 * 1024,
            command_timeout: Duration::from_secs(10),
            command_attempts: 3,
            command_expiry: Duration::from_secs(3600),
            outbox_poll: Duration::from_millis(200),
            tick_interval: Duration::from_secs(5),
            meter_offline_after: Duration::from_secs(30 * 60),
            restore_sla: Duration::from_secs(5 * 60),
            trip_windows: "working_hours".into(),
            public_base_url: "http://localhost:8080".into(),
            notify: NotifySettings::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("parsing {0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("environment variable {0}: {1}")]
    Env(String, String),
}

impl Settings {
    /// The file (when given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let mut settings = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| SettingsError::Read(path.to_owned(), e))?;
                toml::from_str(&text).map_err(|e| SettingsError::Parse(path.to_owned(), e))?
            }
            None => Settings::default(),
        };
        settings.apply_env(|name| std::env::var(name).ok())?;
        Ok(settings)
    }

    /// The `[worker]` table of the shared `wattpay --config` file (which holds the API's keys at
    /// its top level; defaults when the file has no such table), then the environment.
    pub fn load_table(file: Option<&Path>, table: &str) -> Result<Settings, SettingsError> {
        let mut settings = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| SettingsError::Read(path.to_owned(), e))?;
                let mut doc: toml::Table =
                    toml::from_str(&text).map_err(|e| SettingsError::Parse(path.to_owned(), e))?;
                match doc.remove(table) {
                    Some(value) => value
                        .try_into()
                        .map_err(|e| SettingsError::Parse(path.to_owned(), e))?,
                    None => Settings::default(),
                }
            }
            None => Settings::default(),
        };
        settings.apply_env(|name| std::env::var(name).ok())?;
        Ok(settings)
    }

    /// Overrides from `WATTPAY_*` variables (`get` answers a variable's value): `WATTPAY_` and
    /// the key in upper case for every key, `WATTPAY_SMTP_URL` and friends for `notify.*`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), SettingsError> {
        fn parsed<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, SettingsError>
        where
            T::Err: std::fmt::Display,
        {
            v.trim()
                .parse()
                .map_err(|e: T::Err| SettingsError::Env(name.to_owned(), e.to_string()))
        }
        let text = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let number = |name: &str| -> Result<Option<u64>, SettingsError> {
            text(name).map(|v| parsed::<u64>(name, &v)).transpose()
        };
        let set_text = |name: &str, slot: &mut Option<String>| {
            if let Some(v) = text(name) {
                *slot = Some(v);
            }
        };
        set_text("WATTPAY_DATABASE_URL", &mut self.database_url);
        if let Some(v) = text("WATTPAY_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        set_text("WATTPAY_REDIS_URL", &mut self.redis_url);
        if let Some(v) = text("WATTPAY_REDIS_PREFIX") {
            self.redis_prefix = v;
        }
        set_text("WATTPAY_MQTT_URL", &mut self.mqtt_url);
        if let Some(v) = text("WATTPAY_MQTT_CA_FILE") {
            self.mqtt_ca_file = Some(PathBuf::from(v));
        }
        if let Some(v) = text("WATTPAY_EMBEDDED_BROKER_PORT") {
            self.embedded_broker_port = parsed("WATTPAY_EMBEDDED_BROKER_PORT", &v)?;
        }
        if let Some(v) = text("WATTPAY_WORKER_ID") {
            self.worker_id = v;
        }
        if let Some(v) = text("WATTPAY_MQTT_SHARE_GROUP") {
            self.mqtt_share_group = v;
        }
        if let Some(v) = text("WATTPAY_MQTT_SESSION_EXPIRY_SECS") {
            self.mqtt_session_expiry_secs = parsed("WATTPAY_MQTT_SESSION_EXPIRY_SECS", &v)?;
        }
        if let Some(v) = text("WATTPAY_MQTT_VERSION") {
            self.mqtt_version = parsed("WATTPAY_MQTT_VERSION", &v)?;
        }
        set_text("WATTPAY_MQTT_USERNAME", &mut self.mqtt_username);
        if let Some(v) = text("WATTPAY_MQTT_PASSWORD") {
            self.mqtt_password = Some(SecretString::from(v));
        }
        if let Some(v) = text("WATTPAY_MQTT_MAX_PACKET_BYTES") {
            self.mqtt_max_packet_bytes = parsed("WATTPAY_MQTT_MAX_PACKET_BYTES", &v)?;
        }
        if let Some(v) = text("WATTPAY_PUBLIC_BASE_URL") {
            self.public_base_url = v;
        }
        // Provider secrets, so the file can be checked in without them.
        if let (Some(v), Some(p)) = (
            text("WATTPAY_ALIYUN_SMS_ACCESS_KEY_SECRET"),
            self.notify.aliyun_sms.as_mut(),
        ) {
            p.access_key_secret = Some(v.into());
        }
        if let (Some(v), Some(p)) = (
            text("WATTPAY_TENCENT_SMS_SECRET_KEY"),
            self.notify.tencent_sms.as_mut(),
        ) {
            p.secret_key = Some(v.into());
        }
        if let (Some(v), Some(p)) = (
            text("WATTPAY_WECHAT_MP_SECRET"),
            self.notify.wechat.as_mut(),
        ) {
            p.secret = Some(v.into());
        }
        // `_SECS` is the older spelling of the same variable.
        for name in ["WATTPAY_COMMAND_TIMEOUT", "WATTPAY_COMMAND_TIMEOUT_SECS"] {
            if let Some(secs) = number(name)? {
                self.command_timeout = Duration::from_secs(secs);
            }
        }
        if let Some(v) = text("WATTPAY_COMMAND_ATTEMPTS") {
            self.command_attempts = parsed("WATTPAY_COMMAND_ATTEMPTS", &v)?;
        }
        if let Some(secs) = number("WATTPAY_COMMAND_EXPIRY")? {
            self.command_expiry = Duration::from_secs(secs);
        }
        if let Some(ms) = number("WATTPAY_OUTBOX_POLL")? {
            self.outbox_poll = Duration::from_millis(ms);
        }
        if let Some(secs) = number("WATTPAY_TICK_INTERVAL")? {
            self.tick_interval = Duration::from_secs(secs);
        }
        if let Some(secs) = number("WATTPAY_METER_OFFLINE_AFTER")? {
            self.meter_offline_after = Duration::from_secs(secs);
        }
        if let Some(secs) = number("WATTPAY_RESTORE_SLA")? {
            self.restore_sla = Duration::from_secs(secs);
        }
        if let Some(v) = text("WATTPAY_TRIP_WINDOWS") {
            self.trip_windows = v;
        }
        set_text("WATTPAY_SMTP_URL", &mut self.notify.smtp_url);
        set_text("WATTPAY_SMTP_FROM", &mut self.notify.smtp_from);
        set_text("WATTPAY_SMTP_USERNAME", &mut self.notify.smtp_username);
        if let Some(v) = text("WATTPAY_SMTP_PASSWORD") {
            self.notify.smtp_password = Some(SecretString::from(v));
        }
        if let Some(v) = text("WATTPAY_SMTP_CA_FILE") {
            self.notify.smtp_ca_file = Some(PathBuf::from(v));
        }
        set_text("WATTPAY_SMS_WEBHOOK_URL", &mut self.notify.sms_webhook_url);
        set_text("WATTPAY_NOTIFY_LANGUAGE", &mut self.notify.language);
        set_text("WATTPAY_NOTIFY_QUIET_HOURS", &mut self.notify.quiet_hours);
        set_text(
            "WATTPAY_NOTIFY_DAILY_REMINDER_AT",
            &mut self.notify.daily_reminder_at,
        );
        if let Some(v) = text("WATTPAY_NOTIFY_MAX_ATTEMPTS") {
            self.notify.max_attempts = Some(parsed("WATTPAY_NOTIFY_MAX_ATTEMPTS", &v)?);
        }
        Ok(())
    }

    /// The database URL: the configured one, else SQLite in `data_dir`.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| store::sqlite_url(&self.data_dir))
    }

    /// The uplink subscription: `$share/{group}/wattpay/v1/gw/+/up/#`.
    pub fn uplink_filter(&self) -> String {
        format!(
            "$share/{}/{}",
            self.mqtt_share_group,
            protocol::topic::UPLINK_FILTER
        )
    }

    /// Where the file notifier writes messages.
    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        let mut s: Settings = toml::from_str(
            r#"
            worker_id = "w-7"
            mqtt_url = "mqtt://broker:1883"
            command_timeout = 4
            [notify]
            smtp_url = "smtp://mail:25"
            "#,
        )
        .unwrap();
        assert_eq!(s.worker_id, "w-7");
        assert_eq!(s.command_timeout, Duration::from_secs(4));
        assert_eq!(s.command_attempts, 3);
        s.apply_env(|name| (name == "WATTPAY_MQTT_URL").then(|| "mqtt://other:1883".to_owned()))
            .unwrap();
        assert_eq!(s.mqtt_url.as_deref(), Some("mqtt://other:1883"));
        assert_eq!(s.notify.smtp_url.as_deref(), Some("smtp://mail:25"));
        assert!(toml::from_str::<Settings>("no_such_key = 1").is_err());
    }

    #[test]
    fn every_key_has_its_environment_variable() {
        let env = [
            ("WATTPAY_MQTT_URL", "mqtts://broker:8883"),
            ("WATTPAY_MQTT_CA_FILE", "/etc/wattpay/ca.pem"),
            ("WATTPAY_MQTT_SHARE_GROUP", "g2"),
            ("WATTPAY_MQTT_SESSION_EXPIRY_SECS", "5"),
            ("WATTPAY_MQTT_VERSION", "4"),
            ("WATTPAY_COMMAND_TIMEOUT", "3"),
            ("WATTPAY_OUTBOX_POLL", "50"),
            ("WATTPAY_TRIP_WINDOWS", "always"),
            ("WATTPAY_SMTP_FROM", "wattpay@example.com"),
        ];
        let mut s = Settings::default();
        s.apply_env(|name| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap();
        assert_eq!(
            s.mqtt_ca_file.as_deref(),
            Some(Path::new("/etc/wattpay/ca.pem"))
        );
        assert_eq!(s.mqtt_share_group, "g2");
        assert_eq!(s.mqtt_session_expiry_secs, 5);
        assert_eq!(s.mqtt_version, 4);
        assert_eq!(s.command_timeout, Duration::from_secs(3));
        assert_eq!(s.outbox_poll, Duration::from_millis(50));
        assert_eq!(s.trip_windows, "always");
        assert_eq!(s.notify.smtp_from.as_deref(), Some("wattpay@example.com"));

        let err = Settings::default()
            .apply_env(|name| (name == "WATTPAY_MQTT_SESSION_EXPIRY_SECS").then(|| "soon".into()))
            .unwrap_err();
        assert!(
            err.to_string().contains("WATTPAY_MQTT_SESSION_EXPIRY_SECS"),
            "{err}"
        );
    }

    #[test]
    fn the_shared_config_file_keeps_worker_keys_in_its_worker_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wattpay.toml");
        std::fs::write(
            &path,
            "http_addr = \"0.0.0.0:8080\"\n[worker]\nworker_id = \"w-3\"\nmqtt_session_expiry_secs = 30\n",
        )
        .unwrap();
        let s = Settings::load_table(Some(&path), "worker").unwrap();
        assert_eq!(s.worker_id, "w-3");
        assert_eq!(s.mqtt_session_expiry_secs, 30);
        std::fs::write(&path, "http_addr = \"0.0.0.0:8080\"\n").unwrap();
        let s = Settings::load_table(Some(&path), "worker").unwrap();
        assert_eq!(s.worker_id, Settings::default().worker_id);
    }
}
