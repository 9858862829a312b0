//! Notifications to tenants: charge-control transitions (low balance, power cut pending, power
//! cut, power restored), top-ups credited and the daily low-balance reminder, rendered from
//! templates in Simplified Chinese and English ([`template`]) and sent through the
//! foundation's [`store::notifier::Notifier`].
//!
//! Rules kept here:
//! - a message is sent at most once per dedup key and channel (the notification log's unique
//!   key, claimed before sending; charge control's keys name the transition, so one alarm per
//!   transition, not per reading); a provider error is recorded on that key and the outbox
//!   retries the message with a growing delay, up to `notify.max_attempts`, then it stays
//!   recorded as failed;
//! - the tenant's preferences decide which kinds reach them and on which channels (SMS, email,
//!   WeChat template message); by default WeChat when they bound an openid, SMS otherwise, and
//!   email when they gave an address;
//! - quiet hours (site local time, default 22:00–08:00): low-balance warnings and reminders wait
//!   until the quiet period ends; power cut pending, power cut, power restored and top-up
//!   receipts are urgent and always go at once ([`template::urgent`]);
//! - the outbox folder stays the default channel; real ones are SMTP ([`smtp`]), Aliyun SMS
//!   ([`aliyun`]), Tencent Cloud SMS ([`tencent`]), an SMS webhook ([`webhook`]) and WeChat
//!   template messages ([`wechat`]).

pub mod aliyun;
pub mod quiet;
pub mod reminder;
pub mod smtp;
pub mod template;
pub mod tencent;
pub mod webhook;
pub mod wechat;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;
use serde::Deserialize;
use store::entity::{building, site, unit};
use store::notifier::{FileOutboxNotifier, Notifier, NotifyError, TemplatedMessage};
use store::outbox::OutboxMessage;
use store::{Account, AccountId, OrgId, StoreError};

use crate::context::site_tz;
use crate::settings::Settings;
use crate::Worker;

pub use template::{render, render_in, Lang, Rendered};

/// Attempts of a message by default before it is given up (recorded as failed).
const DEFAULT_MAX_ATTEMPTS: i32 = 10;

/// What became of a `notify` outbox message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// Sent, or nothing to send, or given up after its attempts (recorded).
    Done,
    /// Quiet hours: try again at this time.
    Deferred(DateTime<Utc>),
}

/// The HTTP client of the providers: bounded time per request.
pub(crate) fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?)
}

/// A `notify` outbox message: to an account's tenant, or to an explicit address.
#[derive(Debug, Deserialize)]
struct NotifyPayload {
    #[serde(default)]
    account_id: Option<AccountId>,
    /// `sms`, `email` or `wechat`, with `to`.
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    to: Option<String>,
    template: String,
    #[serde(default)]
    params: serde_json::Value,
    #[serde(default)]
    dedup_key: Option<String>,
    #[serde(default)]
    balance: Option<domain::Money>,
}

/// The time zone of an account's site.
async fn account_tz(
    conn: &impl sea_orm::ConnectionTrait,
    account: &Account,
) -> Result<chrono_tz::Tz, StoreError> {
    let unit = unit::Entity::find_by_id(account.unit_id)
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let building = building::Entity::find_by_id(unit.building_id)
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let site = site::Entity::find_by_id(building.site_id)
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(site_tz(&site.timezone))
}

impl Worker {
    fn default_lang(&self) -> Lang {
        self.settings()
            .notify
            .language
            .as_deref()
            .and_then(Lang::parse)
            .unwrap_or(Lang::Both)
    }

    fn quiet_hours(&self) -> Option<quiet::QuietHours> {
        let configured = self.settings().notify.quiet_hours.as_deref();
        match quiet::QuietHours::parse(configured.unwrap_or("22:00-08:00")) {
            Ok(q) => q,
            Err(e) => {
                tracing::warn!(error = e, "notify.quiet_hours ignored");
                None
            }
        }
    }

    /// Sends a `notify` outbox message (at most once per dedup key and channel), or defers it
    /// to the end of the quiet hours.
    pub async fn send_notification(
        &self,
        org: OrgId,
        m: &OutboxMessage,
        now: DateTime<Utc>,
    ) -> anyhow::Result<NotifyOutcome> {
        let p: NotifyPayload = serde_json::from_value(m.payload.clone())?;
        let mut params = if p.params.is_object() {
            p.params.clone()
        } else {
            serde_json::json!({})
        };
        let mut recipients: Vec<(String, String)> = Vec::new();
        if let (Some(channel), Some(to)) = (&p.channel, &p.to) {
            recipients.push((channel.clone(), to.clone()));
        }
        let mut lang = self.default_lang();
        let mut tz = chrono_tz::Asia::Shanghai;
        let mut url = None;
        if let Some(account_id) = p.account_id {
            let account = store::account::get(self.db(), org, account_id).await?;
            params["account_no"] = account.account_no.clone().into();
            if params.get("balance").is_none() {
                let balance = p.balance.unwrap_or_else(|| account.balance());
                params["balance"] = format!("{:.2}", balance.yuan()).into();
            }
            tz = account_tz(self.db(), &account).await?;
            url = Some(format!(
                "{}/t/{}",
                self.settings().public_base_url.trim_end_matches('/'),
                account.account_no
            ));
            if p.to.is_none() {
                if let Some(tenant) = account.tenant_id {
                    let tenant = store::tenant::get(self.db(), org, tenant).await?;
                    if let Some(phone) = tenant.phone {
                        let group = template::group(&p.template);
                        let wanted = store::tenant_preference::get(self.db(), &phone).await?;
                        let enabled = match group {
                            "low_balance" => wanted.low_balance,
                            "power_events" => wanted.power_events,
                            "payment_receipts" => wanted.payment_receipts,
                            _ => true,
                        };
                        if !enabled {
                            tracing::debug!(
                                %account_id,
                                template = p.template,
                                "the tenant turned this kind off"
                            );
                            return Ok(NotifyOutcome::Done);
                        }
                        let how = store::tenant_preference::delivery(self.db(), &phone).await?;
                        if let Some(l) = how.language.as_deref().and_then(Lang::parse) {
                            lang = l;
                        }
                        recipients.extend(tenant_recipients(&how, group, &phone));
                    }
                }
            }
        }
        if recipients.is_empty() {
            return Ok(NotifyOutcome::Done);
        }
        if !template::urgent(&p.template) {
            if let Some(end) = self.quiet_hours().and_then(|q| q.ends_after(now, tz)) {
                return Ok(NotifyOutcome::Deferred(end));
            }
        }
        let message = template::templated(&p.template, &params, lang, url);
        let dedup = p
            .dedup_key
            .clone()
            .unwrap_or_else(|| format!("outbox:{}", m.id));
        let mut failed: Option<NotifyError> = None;
        for (channel, to) in recipients {
            let key = format!("{dedup}:{channel}");
            if !store::notifier_log::claim(
                self.db(),
                org,
                &key,
                p.account_id,
                &p.template,
                &channel,
                &to,
            )
            .await?
            {
                continue; // sent before
            }
            let res = self.send_on(&channel, &to, &message).await;
            let error = res.as_ref().err().map(ToString::to_string);
            store::notifier_log::finish(self.db(), &key, error.as_deref()).await?;
            if let Err(e) = res {
                failed.get_or_insert(e);
            }
        }
        match failed {
            None => Ok(NotifyOutcome::Done),
            Some(e) => {
                let max = self
                    .settings()
                    .notify
                    .max_attempts
                    .unwrap_or(DEFAULT_MAX_ATTEMPTS);
                if m.attempts >= max {
                    tracing::error!(
                        id = m.id,
                        attempts = m.attempts,
                        error = %e,
                        "notification given up; recorded as failed"
                    );
                    Ok(NotifyOutcome::Done)
                } else {
                    Err(e.into())
                }
            }
        }
    }

    async fn send_on(
        &self,
        channel: &str,
        to: &str,
        message: &TemplatedMessage,
    ) -> Result<(), NotifyError> {
        let n = self.notifier();
        match channel {
            "email" => n.send_email(to, &message.subject, &message.text).await,
            "wechat" => n.send_wechat(to, message).await,
            "sms" => n.send_templated_sms(to, message).await,
            other => Err(NotifyError::Provider(format!("unknown channel {other:?}"))),
        }
    }
}

/// The tenant's channels for `group` with their addresses: the chosen ones, else WeChat when
/// bound (SMS otherwise) plus email when given. A channel without an address is skipped.
fn tenant_recipients(
    how: &store::tenant_preference::Delivery,
    group: &str,
    phone: &str,
) -> Vec<(String, String)> {
    let address = |channel: &str| match channel {
        "sms" => Some(phone.to_owned()),
        "email" => how.email.clone(),
        "wechat" => how.wechat_openid.clone(),
        _ => None,
    };
    let channels: Vec<String> = if let Some(chosen) = how.channels.get(group) {
        chosen.clone()
    } else {
        let mut d = vec![if how.wechat_openid.is_some() {
            "wechat".to_owned()
        } else {
            "sms".to_owned()
        }];
        if how.email.is_some() {
            d.push("email".into());
        }
        d
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for c in channels {
        if out.iter().any(|(seen, _)| *seen == c) {
            continue;
        }
        if let Some(to) = address(&c).filter(|a| !a.trim().is_empty()) {
            out.push((c, to));
        }
    }
    out
}

/// Sends each channel through its own provider.
pub struct RoutingNotifier {
    pub sms: Arc<dyn Notifier>,
    pub email: Arc<dyn Notifier>,
    pub wechat: Arc<dyn Notifier>,
}

#[async_trait]
impl Notifier for RoutingNotifier {
    async fn send_sms(&self, to: &str, text: &str) -> Result<(), NotifyError> {
        self.sms.send_sms(to, text).await
    }

    async fn send_email(&self, to: &str, subject: &str, body: &str) -> Result<(), NotifyError> {
        self.email.send_email(to, subject, body).await
    }

    async fn send_templated_sms(
        &self,
        to: &str,
        message: &TemplatedMessage,
    ) -> Result<(), NotifyError> {
        self.sms.send_templated_sms(to, message).await
    }

    async fn send_wechat(
        &self,
        openid: &str,
        message: &TemplatedMessage,
    ) -> Result<(), NotifyError> {
        self.wechat.send_wechat(openid, message).await
    }
}

/// The notifier the settings ask for: SMTP, Aliyun or Tencent Cloud SMS (or the SMS webhook)
/// and WeChat template messages where configured, the outbox folder otherwise.
pub fn from_settings(settings: &Settings) -> anyhow::Result<Arc<dyn Notifier>> {
    let file: Arc<dyn Notifier> = Arc::new(FileOutboxNotifier::new(settings.outbox_dir()));
    let n = &settings.notify;
    let email: Arc<dyn Notifier> = match &n.smtp_url {
        Some(url) => Arc::new(smtp::SmtpNotifier::with_ca(
            url,
            n.smtp_from
                .as_deref()
                .unwrap_or("Wattpay <noreply@wattpay.local>"),
            n.smtp_username.clone(),
            n.smtp_password.clone(),
            n.smtp_ca_file.as_deref(),
        )?),
        None => file.clone(),
    };
    let configured = [
        n.aliyun_sms.is_some(),
        n.tencent_sms.is_some(),
        n.sms_webhook_url.is_some(),
    ];
    if configured.iter().filter(|c| **c).count() > 1 {
        anyhow::bail!(
            "configure one SMS channel: notify.aliyun_sms, notify.tencent_sms or notify.sms_webhook_url"
        );
    }
    let sms: Arc<dyn Notifier> = if let Some(a) = &n.aliyun_sms {
        Arc::new(aliyun::AliyunSms::new(a)?)
    } else if let Some(t) = &n.tencent_sms {
        Arc::new(tencent::TencentSms::new(t)?)
    } else if let Some(url) = &n.sms_webhook_url {
        Arc::new(webhook::WebhookSmsNotifier::new(url)?)
    } else {
        file.clone()
    };
    let wechat: Arc<dyn Notifier> = match &n.wechat {
        Some(w) => Arc::new(wechat::WechatTemplates::new(w)?),
        None => file,
    };
    Ok(Arc::new(RoutingNotifier { sms, email, wechat }))
}
