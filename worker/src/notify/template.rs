//! The messages' words: one template per notification kind in Simplified Chinese and English,
//! the parameters each kind takes (in the order positional provider templates take them), the
//! preference group a kind belongs to, and which kinds are urgent.

use store::notifier::TemplatedMessage;

/// The language of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
    /// Chinese, then English (the default: nobody chose yet).
    Both,
}

impl Lang {
    /// `zh`, `en`, `zh-en`; anything else is `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh-hans" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            "zh-en" | "both" => Some(Lang::Both),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
            Lang::Both => "zh-en",
        }
    }
}

/// A rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
}

/// The preference group of a kind (the switches of `tenant_preference::Preferences`).
pub fn group(template: &str) -> &'static str {
    match template {
        "low_balance" | "daily_low_balance" => "low_balance",
        "trip_pending" | "tripped" | "restored" => "power_events",
        "topup_credited" => "payment_receipts",
        _ => "other",
    }
}

/// Urgent messages ignore quiet hours: power going off or coming back, and the receipt of a
/// payment the tenant has just made. Warnings (low balance, the daily reminder) wait.
pub fn urgent(template: &str) -> bool {
    matches!(
        template,
        "trip_pending" | "tripped" | "restored" | "topup_credited"
    )
}

/// The parameters of a kind in template order: `account_no`, `balance`, then `amount` for a
/// top-up.
pub fn param_names(template: &str) -> &'static [&'static str] {
    match template {
        "topup_credited" => &["account_no", "amount", "balance"],
        _ => &["account_no", "balance"],
    }
}

fn param<'a>(params: &'a serde_json::Value, name: &str) -> &'a str {
    params
        .get(name)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
}

/// Renders a template with its parameters (`balance`, `amount`, `account_no`) in both
/// languages.
pub fn render(template: &str, params: &serde_json::Value) -> Rendered {
    render_in(template, params, Lang::Both)
}

/// Renders a template in `lang`.
pub fn render_in(template: &str, params: &serde_json::Value, lang: Lang) -> Rendered {
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
    match lang {
        Lang::Both => Rendered {
            subject: format!("【Wattpay】{zh_subject} / {en_subject}"),
            text: format!("【Wattpay】{zh}\n{en}"),
        },
        Lang::Zh => Rendered {
            subject: format!("【Wattpay】{zh_subject}"),
            text: format!("【Wattpay】{zh}"),
        },
        Lang::En => Rendered {
            subject: format!("[Wattpay] {en_subject}"),
            text: format!("[Wattpay] {en}"),
        },
    }
}

/// Everything a channel may need about one message.
pub fn templated(
    template: &str,
    params: &serde_json::Value,
    lang: Lang,
    url: Option<String>,
) -> TemplatedMessage {
    let rendered = render_in(template, params, lang);
    TemplatedMessage {
        template: template.to_owned(),
        language: lang.as_str().to_owned(),
        params: param_names(template)
            .iter()
            .map(|name| ((*name).to_owned(), param(params, name).to_owned()))
            .collect(),
        subject: rendered.subject,
        text: rendered.text,
        url,
    }
}

/// The provider-side template id of `message` in `ids`: `kind.lang` first (for `en`), then
/// `kind`.
pub fn template_id<'a>(
    ids: &'a std::collections::BTreeMap<String, String>,
    message: &TemplatedMessage,
) -> Option<&'a str> {
    ids.get(&format!("{}.{}", message.template, message.language))
        .or_else(|| ids.get(&message.template))
        .map(String::as_str)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_language_alone_or_both() {
        let p =
            serde_json::json!({"account_no": "1000000017", "balance": "12.30", "amount": "50.00"});
        let zh = render_in("topup_credited", &p, Lang::Zh);
        assert_eq!(zh.subject, "【Wattpay】充值成功");
        assert!(zh.text.contains("已充值 ¥50.00") && !zh.text.contains("credited"));
        let en = render_in("topup_credited", &p, Lang::En);
        assert_eq!(en.subject, "[Wattpay] Top-up credited");
        assert!(en.text.contains("¥50.00 was credited") && !en.text.contains("充值"));
        let both = render("topup_credited", &p);
        assert!(both.text.starts_with("【Wattpay】您的") && both.text.contains("credited"));
        let m = templated("topup_credited", &p, Lang::En, None);
        assert_eq!(
            m.params,
            [
                ("account_no".to_owned(), "1000000017".to_owned()),
                ("amount".to_owned(), "50.00".to_owned()),
                ("balance".to_owned(), "12.30".to_owned())
            ]
        );
        let ids = [
            ("topup_credited".to_owned(), "T1".to_owned()),
            ("topup_credited.en".to_owned(), "T2".to_owned()),
        ]
        .into_iter()
        .collect();
        assert_eq!(template_id(&ids, &m), Some("T2"));
        let zh = templated("topup_credited", &p, Lang::Zh, None);
        assert_eq!(template_id(&ids, &zh), Some("T1"));
    }
}
