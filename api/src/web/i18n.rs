//! The pages' words, in Simplified Chinese first and English second, all in this one catalogue.
//!
//! Rules it keeps: every key has both languages (a test checks it); templates reach the words
//! through `t.<key>` with strict undefined behaviour, so a missing key fails the render instead
//! of showing an empty string. Placeholders are `{n}`, `{amount}`, replaced by the templates.
//! The language is `?lang=` when given (and then remembered in the `lang` cookie), else the
//! `lang` cookie, else the best of `Accept-Language`, else Chinese.

use actix_web::HttpRequest;

/// A language the pages are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The short code used in `?lang=` and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        if code.starts_with("zh") {
            Some(Lang::Zh)
        } else if code.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The language of a request, and whether it came from `?lang=` (so it should be remembered).
    pub fn of_request(req: &HttpRequest) -> (Lang, bool) {
        let query = req.query_string();
        let from_query = query
            .split('&')
            .filter_map(|pair| pair.strip_prefix("lang="))
            .find_map(Lang::parse);
        if let Some(lang) = from_query {
            return (lang, true);
        }
        if let Some(lang) = req.cookie(COOKIE).and_then(|c| Lang::parse(c.value())) {
            return (lang, false);
        }
        let accept = req
            .headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        (Lang::from_accept_language(accept), false)
    }

    /// The best of Chinese and English by `q` (Chinese when neither is named or on a tie).
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(Lang, u16)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            // q in thousandths, so no floats are needed to compare preferences.
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(1000, parse_q);
            if best.is_none_or(|(_, b)| q > b) {
                best = Some((lang, q));
            }
        }
        best.map_or(Lang::Zh, |(lang, _)| lang)
    }
}

/// The cookie remembering a chosen language.
pub const COOKIE: &str = "lang";

fn parse_q(q: &str) -> u16 {
    let (whole, frac) = q.trim().split_once('.').unwrap_or((q.trim(), ""));
    let whole: u16 = whole.parse().unwrap_or(0).min(1);
    let frac: String = frac.chars().chain("000".chars()).take(3).collect();
    (whole * 1000 + frac.parse::<u16>().unwrap_or(0)).min(1000)
}

/// (key, Chinese, English).
pub const CATALOGUE: &[(&str, &str, &str)] = &[
    (
        "app_name",
        "瓦特付 预付费电费",
        "Wattpay prepaid electricity",
    ),
    ("skip_to_content", "跳到正文", "Skip to content"),
    ("switch_lang", "English", "中文"),
    ("nav_overview", "概览", "Overview"),
    ("nav_accounts", "账户", "Accounts"),
    ("nav_sites", "房间状态", "Room board"),
    ("nav_gateways", "网关与电表", "Gateways & meters"),
    ("sign_in", "登录", "Sign in"),
    ("sign_out", "退出登录", "Sign out"),
    ("sign_in_title", "物业管理登录", "Property manager sign-in"),
    ("email", "邮箱", "Email"),
    ("password", "密码", "Password"),
    ("err_required", "必填", "Required"),
    (
        "err_email",
        "请输入有效的邮箱地址",
        "Enter a valid email address",
    ),
    (
        "err_credentials",
        "邮箱或密码错误",
        "Wrong email or password",
    ),
    (
        "err_csrf",
        "页面已过期，请刷新后重试",
        "This page expired; reload it and try again",
    ),
    ("err_not_found", "找不到该页面", "Page not found"),
    (
        "err_internal",
        "服务器出错，请稍后再试",
        "Something went wrong; please try again later",
    ),
    (
        "err_forbidden",
        "您的角色无权执行此操作",
        "Your role does not allow this",
    ),
    (
        "err_amount",
        "请输入金额，如 50 或 50.00",
        "Enter an amount such as 50 or 50.00",
    ),
    (
        "err_amount_range",
        "金额须在 0.01 到 50000 元之间",
        "The amount must be between ¥0.01 and ¥50,000",
    ),
    ("err_account_closed", "账户已销户", "The account is closed"),
    ("back_home", "返回首页", "Back to the start"),
    ("card_accounts", "账户数", "Accounts"),
    ("card_alarmed", "余额告警", "Low balance"),
    ("card_tripped", "已断电", "Power off"),
    ("card_protected", "保电", "Protected"),
    ("card_balance_total", "余额合计", "Total balance"),
    ("card_offline", "离线电表", "Offline meters"),
    (
        "chart_30_days",
        "近 30 天用电费用与充值",
        "Charges and top-ups, last 30 days",
    ),
    ("chart_charges", "电费", "Charges"),
    ("chart_topups", "充值", "Top-ups"),
    ("attention", "需要关注的账户", "Accounts needing attention"),
    ("none", "暂无", "None"),
    ("account_no", "账号", "Account no."),
    ("unit", "房间", "Unit"),
    ("building", "楼栋", "Building"),
    ("site", "项目", "Site"),
    ("tenant", "租户", "Tenant"),
    ("balance", "余额", "Balance"),
    ("state", "状态", "State"),
    ("state_normal", "正常", "Normal"),
    ("state_alarmed", "余额不足", "Low balance"),
    ("state_trip_pending", "即将断电", "About to go off"),
    ("state_tripped", "已断电", "Power off"),
    ("state_restoring", "正在恢复供电", "Restoring power"),
    ("state_force_tripped", "强制断电", "Forced off"),
    ("state_force_closed", "强制供电", "Forced on"),
    ("state_protected", "保电", "Protected"),
    ("state_offline", "离线", "Offline"),
    ("state_closed", "已销户", "Closed"),
    ("state_vacant", "空置", "Vacant"),
    ("filter_all", "全部", "All"),
    ("accounts_title", "账户列表", "Accounts"),
    ("page_prev", "上一页", "Previous"),
    ("page_next", "下一页", "Next"),
    (
        "page_of",
        "第 {page} 页，共 {total} 条",
        "Page {page}, {total} in all",
    ),
    ("ledger", "账户流水", "Ledger"),
    ("when", "时间", "Time"),
    ("kind", "类型", "Type"),
    ("amount", "金额", "Amount"),
    ("balance_after", "余额", "Balance after"),
    ("memo", "备注", "Note"),
    ("kind_opening", "开户", "Opening"),
    ("kind_topup", "充值", "Top-up"),
    ("kind_charge", "电费", "Charge"),
    ("kind_adjustment", "调整", "Adjustment"),
    ("kind_refund", "退款", "Refund"),
    ("kind_reversal", "冲正", "Reversal"),
    ("kind_closing", "销户", "Closing"),
    ("commands", "控制命令", "Commands"),
    ("command_action", "命令", "Command"),
    ("command_state", "状态", "State"),
    ("meter", "电表", "Meter"),
    (
        "usage_chart",
        "近 30 天每日电费",
        "Daily charges, last 30 days",
    ),
    ("counter_payment", "柜台收费", "Counter payment"),
    ("counter_amount", "收款金额（元）", "Amount received (¥)"),
    ("counter_memo", "备注（可选）", "Note (optional)"),
    ("counter_submit", "收款", "Take payment"),
    ("confirm_title", "请确认", "Please confirm"),
    (
        "confirm_counter",
        "确认向账户 {account} 收款 ¥{amount}？",
        "Take ¥{amount} for account {account}?",
    ),
    ("confirm_yes", "确认", "Confirm"),
    ("cancel", "取消", "Cancel"),
    (
        "counter_done",
        "已收款 ¥{amount}，当前余额 ¥{balance}",
        "Received ¥{amount}; the balance is now ¥{balance}",
    ),
    (
        "counter_duplicate",
        "此笔收款已登记过，未重复入账",
        "This payment was already recorded; nothing was added",
    ),
    ("protected_reason", "保电原因", "Protection reason"),
    ("sites_title", "房间状态", "Room board"),
    ("units_count", "{n} 个房间", "{n} units"),
    ("door_qr_sheet", "打印门牌二维码", "Print door QR codes"),
    ("qr_sheet_title", "门牌二维码", "Door QR codes"),
    (
        "qr_scan",
        "扫码查询余额、充值",
        "Scan to see the balance and top up",
    ),
    ("print", "打印", "Print"),
    ("legend", "图例", "Legend"),
    ("gateways_title", "网关", "Gateways"),
    ("meters_title", "电表", "Meters"),
    ("gateway", "网关", "Gateway"),
    ("name", "名称", "Name"),
    ("online", "在线", "Online"),
    ("offline", "离线", "Offline"),
    ("last_seen", "最后上线", "Last seen"),
    ("never", "从未", "Never"),
    ("bus_slave", "总线/地址", "Bus / address"),
    ("model", "型号", "Model"),
    ("ct_ratio", "变比", "CT ratio"),
    ("door_title", "电费余额", "Electricity balance"),
    ("power_on", "正常供电", "Power on"),
    ("power_off", "已断电", "Power off"),
    (
        "power_soon_off",
        "余额不足，即将断电",
        "Low balance: power goes off soon",
    ),
    ("power_restoring", "正在恢复供电", "Restoring power"),
    ("power_restored", "已恢复供电", "Power restored"),
    ("days_left", "预计还可用约 {n} 天", "About {n} days left"),
    (
        "pay_to_restore",
        "充值 ¥{amount} 即可恢复供电",
        "Pay ¥{amount} to restore power",
    ),
    ("last_reading", "最近抄表", "Last reading"),
    ("no_reading", "暂无抄表数据", "No readings yet"),
    ("top_up", "充值", "Top up"),
    ("custom_amount", "其他金额（元）", "Other amount (¥)"),
    ("pay_with", "支付方式", "Pay with"),
    ("power_control", "供电控制", "Power control"),
    ("control_trip", "拉闸断电", "Trip (power off)"),
    ("control_close", "合闸送电", "Close (power on)"),
    ("control_protect", "设为保电", "Protect (保电)"),
    ("control_unprotect", "解除保电", "Lift protection"),
    ("protect_reason", "保电原因", "Reason for protection"),
    (
        "confirm_trip",
        "确认对账户 {account} 拉闸断电？",
        "Cut the power of account {account}?",
    ),
    (
        "confirm_close",
        "确认对账户 {account} 合闸送电？",
        "Restore the power of account {account}?",
    ),
    (
        "confirm_protect",
        "确认将账户 {account} 设为保电（欠费也不断电）？",
        "Protect account {account} (no trip even when in debt)?",
    ),
    (
        "confirm_unprotect",
        "确认解除账户 {account} 的保电？",
        "Lift the protection of account {account}?",
    ),
    ("done_trip", "已下发拉闸指令", "Trip command queued"),
    ("done_close", "已下发合闸指令", "Close command queued"),
    ("done_protect", "已设为保电", "The account is protected"),
    ("done_unprotect", "已解除保电", "Protection lifted"),
    (
        "err_trip_protected",
        "账户处于保电状态，请先解除保电",
        "The account is protected: lift protection first",
    ),
    (
        "err_close_below_threshold",
        "余额低于断电阈值，请先充值",
        "The balance is at or below the trip threshold: top up first",
    ),
    (
        "err_reason_required",
        "请填写保电原因",
        "Give a reason for protection",
    ),
    ("provider_wechat", "微信支付", "WeChat Pay"),
    ("provider_alipay", "支付宝", "Alipay"),
    ("provider_sandbox", "沙箱支付（演示）", "Sandbox (demo)"),
    ("err_provider", "请选择支付方式", "Choose how to pay"),
    (
        "pay_too_many",
        "未完成的支付太多，请稍后再试",
        "Too many unfinished payments; try again later",
    ),
    (
        "pay_provider_down",
        "支付服务暂时不可用，请稍后再试",
        "The payment service is not answering; try again later",
    ),
    ("pay_now", "去支付", "Pay now"),
    (
        "confirm_topup",
        "确认为账户 {account} 充值 ¥{amount}？",
        "Top up ¥{amount} for account {account}?",
    ),
    (
        "pay_unavailable",
        "在线支付暂未开通，请到物业服务台缴费",
        "Online payment is not available yet; please pay at the property office",
    ),
    (
        "alipay_in_wechat",
        "微信内无法使用支付宝，请点右上角在浏览器中打开",
        "Alipay does not work inside WeChat: open this page in your browser",
    ),
    ("live_updating", "余额实时更新", "Balance updates live"),
    (
        "door_not_found",
        "找不到该账号，请核对门牌上的号码",
        "No such account: check the number on the door",
    ),
];

/// The words of one language as a template value (`t.<key>`).
pub fn words(lang: Lang) -> minijinja::Value {
    let map: std::collections::BTreeMap<&str, &str> = CATALOGUE
        .iter()
        .map(|&(key, zh, en)| (key, if lang == Lang::Zh { zh } else { en }))
        .collect();
    minijinja::Value::from_serialize(&map)
}

/// One word outside templates (flash messages, errors).
pub fn text(lang: Lang, key: &str) -> &'static str {
    CATALOGUE
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or("", |&(_, zh, en)| if lang == Lang::Zh { zh } else { en })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_unique_and_translated() {
        let mut keys = std::collections::HashSet::new();
        for (key, zh, en) in CATALOGUE {
            assert!(keys.insert(key), "duplicate key {key}");
            assert!(!zh.is_empty() && !en.is_empty(), "{key} lacks a language");
        }
    }

    #[test]
    fn accept_language_prefers_the_higher_q() {
        assert_eq!(Lang::from_accept_language(""), Lang::Zh);
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Lang::En);
        assert_eq!(Lang::from_accept_language("en;q=0.5,zh-CN;q=0.8"), Lang::Zh);
        assert_eq!(Lang::from_accept_language("fr,en;q=0.3"), Lang::En);
        assert_eq!(Lang::from_accept_language("zh,en"), Lang::Zh);
    }
}
