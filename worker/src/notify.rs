//! Notifications to tenants: charge-control transitions (low balance, power cut pending, power
//! cut, power restored), top-ups credited and reminders, rendered from bilingual templates
//! (Simplified Chinese, then English) and sent through the foundation's
//! [`store::notifier::Notifier`].
//!
//! Rules kept here: a message is sent at most once per dedup key and channel (the
//! notification log's unique key, claimed before sending; a failed send releases it for the
//! outbox retry); the outbox folder stays the default channel; real channels are SMTP
//! ([`smtp`]) and an HTTP SMS webhook ([`webhook`]).

pub mod smtp;
pub mod webhook;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use store::notifier::{FileOutboxNotifier, Notifier, NotifyError};
use store::outbox::OutboxMessage;
use store::{AccountId, OrgId};

use crate::settings::Settings;
use crate::Worker;

/// A rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
}

fn param<'a>(params: &'a serde_json::Value, name: &str) -> &'a str {
    params
        .get(name)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
}

/// Renders a template with its parameters (`balance`, `amount`, `account_no`, ...).
pub fn render(template: &str, params: &serde_json::Value) -> Rendered {
    let balance = param(params, "balance");
    let amount = param(params, "amount");
    let account = param(params, "account_no");
    let (zh_subject, en_subject, zh, en) = match template {
        "low_balance" => (
            "电费余额不足",
            "Low electricity balance",
            format!("您的电费账户 {account} 余额为 ¥{balance}，已低于提醒值，请及时充值。"),
            format!("The balance of your electricity account {account} is ¥{balance}, below the alarm level. Please top up."),
        ),
        "trip_pending" => (
            "电费已用完，将停电",
            "Balance exhausted: power will be cut",
            format!("您的电费账户 {account} 余额为 ¥{balance}，已用完，将在允许的时段停电。请尽快充值。"),
            format!("Your electricity account {account} is exhausted (¥{balance}); power will be cut in the next allowed window. Please top up."),
        ),
        "tripped" => (
            "已停电",
            "Power cut",
            format!("您的电费账户 {account} 余额为 ¥{balance}，已停电。充值后将自动恢复供电。"),
            format!("Power to account {account} was cut (balance ¥{balance}). It is restored automatically after a top-up."),
        ),
        "restored" => (
            "已恢复供电",
            "Power restored",
            format!("您的电费账户 {account} 已恢复供电，当前余额 ¥{balance}。"),
            format!("Power to account {account} is restored. Balance: ¥{balance}."),
        ),
        "topup_credited" => (
            "充值成功",
            "Top-up credited",
            format!("您的电费账户 {account} 已充值 ¥{amount}，当前余额 ¥{balance}。"),
            format!("¥{amount} was credited to your electricity account {account}. Balance: ¥{balance}."),
        ),
        "daily_low_balance" => (
            "电费余额提醒",
            "Balance reminder",
            format!("您的电费账户 {account} 余额仅剩 ¥{balance}，请及时充值，以免停电。"),
            format!("Your electricity account {account} has ¥{balance} left. Please top up to avoid a power cut."),
        ),
        other => (
            "通知",
            "Notice",
            format!("{other}: {params}"),
            format!("{other}: {params}"),
        ),
    };
    Rendered {
        subject: format!("【Wattpay】{zh_subject} / {en_subject}"),
        text: format!("【Wattpay】{zh}\n{en}"),
    }
}

/// A `notify` outbox message: to an account's tenant, or to an explicit address.
#[derive(Debug, Deserialize)]
struct NotifyPayload {
    #[serde(default)]
    account_id: Option<AccountId>,
    /// `sms` or `email`, with `to`.
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

impl Worker {
    /// Sends a `notify` outbox message (at most once per dedup key and channel).
    pub async fn send_notification(
        &self,
        org: OrgId,
        m: &OutboxMessage,
        _now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
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
        if let Some(account_id) = p.account_id {
            let account = store::account::get(self.db(), org, account_id).await?;
            params["account_no"] = account.account_no.clone().into();
            if params.get("balance").is_none() {
                let balance = p.balance.unwrap_or_else(|| account.balance());
                params["balance"] = format!("{:.2}", balance.yuan()).into();
            }
            if p.to.is_none() {
                if let Some(tenant) = account.tenant_id {
                    let tenant = store::tenant::get(self.db(), org, tenant).await?;
                    if let Some(phone) = tenant.phone {
                        recipients.push(("sms".into(), phone));
                    }
                }
            }
        }
        let rendered = render(&p.template, &params);
        let dedup = p
            .dedup_key
            .clone()
            .unwrap_or_else(|| format!("outbox:{}", m.id));
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
            let res = match channel.as_str() {
                "email" => {
                    self.notifier()
                        .send_email(&to, &rendered.subject, &rendered.text)
                        .await
                }
                _ => self.notifier().send_sms(&to, &rendered.text).await,
            };
            let error = res.as_ref().err().map(ToString::to_string);
            store::notifier_log::finish(self.db(), &key, error.as_deref()).await?;
            res?;
        }
        Ok(())
    }
}

/// Sends SMS and mail through different channels.
pub struct RoutingNotifier {
    pub sms: Arc<dyn Notifier>,
    pub email: Arc<dyn Notifier>,
}

#[async_trait]
impl Notifier for RoutingNotifier {
    async fn send_sms(&self, to: &str, text: &str) -> Result<(), NotifyError> {
        self.sms.send_sms(to, text).await
    }

    async fn send_email(&self, to: &str, subject: &str, body: &str) -> Result<(), NotifyError> {
        self.email.send_email(to, subject, body).await
    }
}

/// The notifier the settings ask for: SMTP and the SMS webhook where configured, the outbox
/// folder otherwise.
pub fn from_settings(settings: &Settings) -> anyhow::Result<Arc<dyn Notifier>> {
    let file: Arc<dyn Notifier> = Arc::new(FileOutboxNotifier::new(settings.outbox_dir()));
    let n = &settings.notify;
    let email: Arc<dyn Notifier> = match &n.smtp_url {
        Some(url) => Arc::new(smtp::SmtpNotifier::new(
            url,
            n.smtp_from
                .as_deref()
                .unwrap_or("Wattpay <noreply@wattpay.local>"),
            n.smtp_username.clone(),
            n.smtp_password.clone(),
        )?),
        None => file.clone(),
    };
    let sms: Arc<dyn Notifier> = match &n.sms_webhook_url {
        Some(url) => Arc::new(webhook::WebhookSmsNotifier::new(url)?),
        None => file,
    };
    Ok(Arc::new(RoutingNotifier { sms, email }))
}
