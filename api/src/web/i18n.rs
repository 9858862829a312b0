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
    // --- Manager dashboard: counter desk, reports, editors (mgrweb) ---
    ("print_receipt", "打印收据", "Print the receipt"),
    ("pay_method", "收款方式", "Payment method"),
    ("method_cash", "现金", "Cash"),
    ("method_card", "银行卡", "Card"),
    ("method_transfer", "转账", "Bank transfer"),
    ("err_method", "请选择收款方式", "Choose a payment method"),
    ("receipts", "收据", "Receipts"),
    ("receipt", "收据", "Receipt"),
    ("receipt_no", "收据号", "Receipt no."),
    ("receipt_payment", "收款", "Payment"),
    ("receipt_reversal", "冲正", "Reversal"),
    ("receipt_adjustment", "调账", "Adjustment"),
    ("reversed", "已冲正", "Reversed"),
    (
        "reverses_no",
        "冲正收据 No. {no}",
        "reverses receipt No. {no}",
    ),
    ("back_to_account", "返回账户", "Back to the account"),
    (
        "reversal",
        "冲正（撤销当日收款）",
        "Reversal (undo a payment of today)",
    ),
    ("reversal_receipt", "要冲正的收据", "Receipt to reverse"),
    ("choose", "请选择", "Choose"),
    ("reversal_reason", "冲正原因", "Reason for the reversal"),
    (
        "reversal_override",
        "余额低于断电阈值也冲正（管理员）",
        "Reverse even below the trip threshold (admin)",
    ),
    ("reversal_submit", "冲正", "Reverse"),
    (
        "confirm_reversal_js",
        "确认冲正账户 {account} 的所选收据？",
        "Reverse the chosen receipt of account {account}?",
    ),
    (
        "confirm_reversal",
        "确认冲正收据 No. {no}（¥{amount}，账户 {account}）？",
        "Reverse receipt No. {no} (¥{amount}, account {account})?",
    ),
    (
        "reversal_done",
        "已冲正 ¥{amount}（收据 No. {no}），当前余额 ¥{balance}",
        "Reversed ¥{amount} (receipt No. {no}); the balance is now ¥{balance}",
    ),
    ("adjustment", "调账", "Adjustment"),
    ("adjust_direction", "调整方向", "Direction"),
    ("adjust_credit", "增加余额", "Credit (add)"),
    ("adjust_debit", "扣减余额", "Debit (take)"),
    ("adjust_amount", "调整金额（元）", "Amount (¥)"),
    ("adjust_reason", "调账原因", "Reason for the adjustment"),
    ("adjust_submit", "调账", "Adjust"),
    (
        "confirm_adjust_js",
        "确认调整账户 {account} 的余额 ¥{amount}？",
        "Adjust the balance of account {account} by ¥{amount}?",
    ),
    (
        "confirm_adjust_credit",
        "确认为账户 {account} 增加余额 ¥{amount}？",
        "Add ¥{amount} to the balance of account {account}?",
    ),
    (
        "confirm_adjust_debit",
        "确认从账户 {account} 扣减余额 ¥{amount}？",
        "Take ¥{amount} from the balance of account {account}?",
    ),
    (
        "adjustment_done",
        "已调账 ¥{amount}（收据 No. {no}），当前余额 ¥{balance}",
        "Adjusted by ¥{amount} (receipt No. {no}); the balance is now ¥{balance}",
    ),
    (
        "err_direction",
        "请选择增加或扣减",
        "Choose credit or debit",
    ),
    ("err_reason_needed", "请填写原因", "Give a reason"),
    (
        "err_receipt_choose",
        "请选择一张当日的收款收据",
        "Choose a payment receipt of today",
    ),
    (
        "err_reversal_below_threshold",
        "冲正后余额将低于断电阈值，需管理员确认",
        "The balance would fall below the trip threshold: an admin must override",
    ),
    (
        "err_reversal_window",
        "只能冲正当日的收款",
        "Only payments of today can be reversed",
    ),
    (
        "err_not_your_receipt",
        "只有收款人或管理员可以冲正",
        "Only the cashier who took it or an admin may reverse it",
    ),
    (
        "err_not_reversible",
        "只有收款可以冲正",
        "Only payments can be reversed",
    ),
    (
        "usage_kwh_chart",
        "近 30 天每日用电量（kWh）",
        "Daily consumption, last 30 days (kWh)",
    ),
    ("command_detail", "说明", "Detail"),
    ("cmd_trip", "拉闸", "Trip"),
    ("cmd_close", "合闸", "Close"),
    ("cmd_alarm_on", "告警开", "Alarm on"),
    ("cmd_alarm_off", "告警关", "Alarm off"),
    ("cmd_read_now", "立即抄表", "Read now"),
    ("cmd_sync_time", "校时", "Sync time"),
    ("cmd_set_params", "设置参数", "Set parameters"),
    ("cmd_state_queued", "排队中", "Queued"),
    ("cmd_state_sent", "已发送", "Sent"),
    ("cmd_state_acked", "已应答", "Acknowledged"),
    ("cmd_state_succeeded", "成功", "Succeeded"),
    ("cmd_state_failed", "失败", "Failed"),
    ("cmd_state_expired", "已过期", "Expired"),
    ("nav_desk", "柜台", "Counter desk"),
    ("desk_title", "营业厅柜台", "Counter desk"),
    ("desk_find", "查找账户", "Find an account"),
    ("desk_open_account", "打开账户", "Open the account"),
    (
        "desk_hint",
        "在账户页收款、冲正并打印收据。",
        "Take payments, reverse them and print receipts on the account page.",
    ),
    (
        "desk_today",
        "今日收据（{date}）",
        "Today's receipts ({date})",
    ),
    (
        "err_account_no",
        "找不到该账号",
        "No account with this number",
    ),
    ("cashier", "收款人", "Cashier"),
    ("day_end_title", "日结报表", "Day-end report"),
    ("day_end_date", "营业日", "Business day"),
    ("day_end_totals", "合计", "Totals"),
    ("day_end_payments", "收款", "Payments"),
    ("day_end_reversals", "冲正", "Reversals"),
    ("day_end_adjustments", "调账", "Adjustments"),
    ("day_end_net", "净额", "Net total"),
    ("day_end_by_method", "按收款方式", "By payment method"),
    ("day_end_by_cashier", "按收款人", "By cashier"),
    ("count", "笔数", "Count"),
    ("count_n", "{n} 笔", "{n} receipts"),
    (
        "err_date",
        "请输入日期，如 2026-11-22",
        "Enter a date such as 2026-11-22",
    ),
    ("show", "查看", "Show"),
    ("download_csv", "下载 CSV", "Download CSV"),
    (
        "list_tripped",
        "已断电的账户",
        "Accounts with the power off",
    ),
    (
        "list_alarmed",
        "余额告警的账户",
        "Accounts with a low balance",
    ),
    ("list_offline", "离线电表", "Offline meters"),
    ("list_work_orders", "未完成的工单", "Open work orders"),
    ("see_all", "查看全部", "See all"),
    ("wo_title", "事项", "Subject"),
    ("wo_status_open", "待处理", "Open"),
    ("wo_status_in_progress", "处理中", "In progress"),
    ("wo_status_resolved", "已解决", "Resolved"),
    ("wo_status_cancelled", "已取消", "Cancelled"),
    ("nav_tariffs", "电价", "Tariffs"),
    ("tariffs_title", "电价方案", "Tariffs"),
    ("created_at", "创建时间", "Created"),
    ("tariff_new", "新建电价方案", "New tariff"),
    ("tariff_name", "方案名称", "Tariff name"),
    ("create", "创建", "Create"),
    (
        "err_name",
        "请填写名称（最多 200 字）",
        "Enter a name (up to 200 characters)",
    ),
    (
        "tariff_version_added",
        "已添加新版本",
        "The version was added",
    ),
    (
        "tariff_versions",
        "版本（新的在前）",
        "Versions (newest first)",
    ),
    ("effective_from", "生效时间", "In force from"),
    (
        "effective_from_day",
        "生效日期（当天 00:00 起）",
        "In force from (00:00 of the day)",
    ),
    ("prices", "价格", "Prices"),
    ("tariff_kind", "计价方式", "Pricing"),
    ("tariff_kind_flat", "单一电价", "Flat"),
    ("tariff_kind_time_of_use", "分时电价", "Time of use"),
    ("tariff_kind_tiered", "阶梯电价", "Tiered"),
    ("tariff_add_version", "添加版本", "Add a version"),
    ("price_per_kwh", "电价（元/kWh）", "Price (¥/kWh)"),
    ("tier_cycle", "阶梯周期", "Tier cycle"),
    ("cycle_yearly", "按年", "Yearly"),
    ("cycle_monthly", "按月", "Monthly"),
    (
        "tiers_lines",
        "阶梯：每行“上限kWh 电价”，最后一档上限写 -",
        "Tiers: one per line, “up-to-kWh price”, - as the last up-to",
    ),
    (
        "tou_lines",
        "时段：每行“开始-结束 时段”，时段为 sharp / peak / flat / valley",
        "Periods: one per line, “start-end period”, period is sharp / peak / flat / valley",
    ),
    ("period_sharp", "尖时电价（元/kWh）", "Sharp price (¥/kWh)"),
    ("period_peak", "峰时电价（元/kWh）", "Peak price (¥/kWh)"),
    (
        "period_flat",
        "平时电价（元/kWh）",
        "Flat-period price (¥/kWh)",
    ),
    (
        "period_valley",
        "谷时电价（元/kWh）",
        "Valley price (¥/kWh)",
    ),
    (
        "err_price",
        "请输入不小于 0 的电价，如 0.538",
        "Enter a price of 0 or more, such as 0.538",
    ),
    (
        "err_tou_ranges",
        "时段格式应为“08:00-11:00 peak”，每行一段",
        "Write periods as “08:00-11:00 peak”, one per line",
    ),
    ("err_cycle", "请选择阶梯周期", "Choose a tier cycle"),
    (
        "err_tiers",
        "阶梯格式应为“2760 0.538”，每行一档，最后一档上限写 -",
        "Write tiers as “2760 0.538”, one per line, - as the last up-to",
    ),
    (
        "err_tariff_kind",
        "请选择计价方式",
        "Choose how energy is priced",
    ),
    (
        "err_version_exists",
        "该时间已有一个版本",
        "A version already starts at that time",
    ),
    (
        "err_tariff_invalid",
        "电价规则不成立（时段须覆盖全天且不重叠，阶梯须递增）",
        "The rules do not hold: periods must cover the day without overlap, tiers must rise",
    ),
    ("nav_audit", "审计日志", "Audit log"),
    ("audit_title", "审计日志", "Audit log"),
    ("audit_actor", "操作人", "Who"),
    ("audit_action", "操作", "Action"),
    ("audit_target", "对象", "Target"),
    ("audit_system", "系统", "System"),
    ("gateway_add", "添加网关", "Add a gateway"),
    (
        "gateway_id",
        "网关编号（gw- 加小写字母或数字）",
        "Gateway id (gw- then lowercase letters and digits)",
    ),
    ("gateway_created", "网关 {id} 已添加", "Gateway {id} added"),
    (
        "gateway_password_once",
        "MQTT 密码只显示这一次，请立即保存到采集器的密码文件。",
        "The MQTT password is shown this once: save it in the agent's password file now.",
    ),
    ("mqtt_username", "MQTT 用户名", "MQTT username"),
    ("mqtt_password", "MQTT 密码", "MQTT password"),
    (
        "agent_config",
        "采集器配置（wattpay-agent）",
        "Agent configuration (wattpay-agent)",
    ),
    (
        "download_toml",
        "下载配置文件",
        "Download the configuration",
    ),
    ("meter_add", "添加电表", "Add a meter"),
    (
        "meter_added",
        "电表已添加，网关将收到新配置",
        "Meter added; its gateway gets the new configuration",
    ),
    ("no_unit", "不关联房间", "No unit"),
    ("meter_bus", "总线名称", "Bus name"),
    (
        "meter_slave",
        "Modbus 地址（1–247）",
        "Modbus address (1–247)",
    ),
    ("meter_id", "电表编号", "Meter id"),
    ("err_site", "请选择项目", "Choose a site"),
    (
        "err_gateway_id",
        "格式应为 gw- 加小写字母或数字",
        "Use gw- then lowercase letters and digits",
    ),
    (
        "err_gateway_taken",
        "该网关编号已被使用",
        "This gateway id is taken",
    ),
    ("err_choose_gateway", "请选择网关", "Choose a gateway"),
    ("err_choose_unit", "请选择房间", "Choose a unit"),
    (
        "err_slave",
        "地址须为 1 到 247",
        "The address must be 1 to 247",
    ),
    (
        "err_meter_id",
        "编号只能含字母、数字、- 和 _（最多 64 个）",
        "Use letters, digits, - and _ (up to 64)",
    ),
    (
        "err_meter_taken",
        "该网关上已有此编号的电表",
        "A meter with this id is already on the gateway",
    ),
    ("err_model", "未知的电表型号", "Unknown meter model"),
    (
        "err_ct_ratio",
        "变比须为大于 0 的数",
        "The CT ratio must be a number above 0",
    ),
    ("close_account", "销户结算", "Close the account"),
    ("close_final_reading_kwh", "最终读数（kWh，可选）", "Final meter reading (kWh, optional)"),
    ("close_final_reading", "最终读数", "Final reading"),
    ("close_settlement", "余额结算方式", "Settle the balance by"),
    ("close_settlement_refund", "原路退款（不足部分退现金）", "Refund to the payers (the rest in cash)"),
    ("close_settlement_cash_refund", "柜台退现金", "Cash refund at the counter"),
    ("close_settlement_collect", "收取欠费", "Collect the amount due"),
    ("close_keep_power", "销户后保持供电（新住户即将入住）", "Keep the power on (the next occupant moves in now)"),
    ("confirm_close_account", "确认销户账户 {account}（当前余额 ¥{balance}）？此操作不可撤销。", "Close account {account} (balance ¥{balance})? This cannot be undone."),
    ("err_close_settlement", "请选择结算方式", "Choose how the balance is settled"),
    ("err_close_amount_due", "账户欠费，请选择“收取欠费”", "The account owes money: choose “Collect”"),
    ("err_close_mismatch", "余额为正，请选择退款", "The balance is in the tenant's favour: choose a refund"),
    ("err_close_reading", "最终读数无效或低于电表当前读数", "The final reading is not valid or below the meter's register"),
    ("err_close_meters", "该房间没有或有多块电表，请不填最终读数", "The unit has no meter or several: leave the final reading empty"),
    ("closing_title", "销户结算单", "Closing statement"),
    ("closing_done", "账户已销户，余额已结清为 0", "The account is closed and settled to zero"),
    ("closing_charged", "最终电费", "Final charge"),
    ("closing_balance_before", "结算前余额", "Balance before settling"),
    ("closing_refund", "原路退款", "Refund"),
    ("closing_cash_refunded", "现金退款", "Cash refunded"),
    ("closing_collected", "收取欠费", "Collected"),
    ("closing_balance", "销户余额", "Closing balance"),
    // --- end of the manager dashboard block ---
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
    // --- The tenant's own pages (sign-in, accounts, usage, ledger, WeChat): tenant_*.rs.
    ("tenant_sign_in_title", "租户登录", "Tenant sign-in"),
    ("tenant_sign_in_link", "登录查看用电明细和账单", "Sign in to see usage and bills"),
    ("tenant_see_usage", "查看我的用电和账单", "See my usage and bills"),
    ("tenant_phone", "手机号", "Phone number"),
    (
        "tenant_phone_hint",
        "物业登记的手机号，我们会发送短信验证码",
        "The phone the property office registered; we send a code by SMS",
    ),
    ("tenant_send_code", "获取验证码", "Send me a code"),
    ("tenant_change_phone", "换一个手机号", "Use another phone"),
    ("tenant_code", "短信验证码（6 位数字）", "Code from the SMS (6 digits)"),
    (
        "tenant_code_sent",
        "如该手机号登记了账户，验证码已发送至 {phone}，{n} 分钟内有效",
        "If this phone holds accounts, a code was sent to {phone}; it is valid for {n} minutes",
    ),
    (
        "tenant_err_phone",
        "请输入有效的手机号（5 到 20 位数字）",
        "Enter a valid phone number (5 to 20 digits)",
    ),
    (
        "tenant_err_code_format",
        "请输入短信中的 6 位数字验证码",
        "Enter the 6 digits from the SMS",
    ),
    (
        "tenant_err_code",
        "验证码错误或已过期，请重新获取",
        "Wrong or expired code: ask for a new one",
    ),
    (
        "tenant_err_consent",
        "首次登录请先阅读并同意隐私声明",
        "At the first sign-in, read and accept the privacy notice",
    ),
    (
        "tenant_err_rate_limited",
        "尝试次数过多，请 {n} 分钟后再试",
        "Too many attempts; try again in {n} minutes",
    ),
    ("tenant_privacy_title", "隐私声明", "Privacy notice"),
    (
        "tenant_privacy_text",
        "我们仅使用您的手机号来登录、查询您的电费账户，并按您的设置发送余额和停复电提醒；用电和缴费记录仅您和您的物业可见。",
        "We use your phone number only to sign you in, find your electricity accounts and send the reminders you choose; your usage and payments are seen only by you and your property office.",
    ),
    (
        "tenant_privacy_accept",
        "我已阅读并同意隐私声明",
        "I have read and accept the privacy notice",
    ),
    ("tenant_my_accounts", "我的账户", "My accounts"),
    ("tenant_kind_flat", "住宅", "Home"),
    ("tenant_kind_shop", "商铺", "Shop"),
    (
        "tenant_no_accounts",
        "该手机号下暂无账户，请联系物业",
        "This phone holds no accounts; ask your property office",
    ),
    ("tenant_switch", "切换账户", "Switch account"),
    (
        "tenant_usage_chart",
        "近 30 天每日用电量与电费",
        "Daily kWh and cost, last 30 days",
    ),
    ("tenant_kwh", "用电量（千瓦时）", "Energy (kWh)"),
    ("tenant_cost", "电费（元）", "Cost (¥)"),
    (
        "tenant_usage_total",
        "合计 {kwh} 千瓦时，¥{cost}",
        "In all {kwh} kWh, ¥{cost}",
    ),
    ("tenant_usage_table", "按天查看数字", "The numbers by day"),
    ("tenant_day", "日期", "Day"),
    ("tenant_receipt", "收据", "Receipt"),
    ("tenant_back", "返回", "Back"),
    ("tenant_prefs", "通知设置", "Notifications"),
    ("tenant_prefs_legend", "给我发送", "Send me"),
    ("tenant_pref_low_balance", "余额不足提醒", "Low-balance warnings"),
    (
        "tenant_pref_power_events",
        "停电和恢复供电通知",
        "Power cut and power restored",
    ),
    ("tenant_pref_payment_receipts", "缴费收据", "A receipt for each payment"),
    (
        "tenant_prefs_channel",
        "通知以短信（绑定微信后以微信）发送，填写邮箱后同时发送邮件；页面语言可在右上角切换。",
        "Notices go by SMS (by WeChat once bound), and also by mail when you give an address; switch the page language at the top.",
    ),
    ("tenant_pref_language", "通知语言", "Language of notices"),
    ("tenant_lang_default", "默认（中文和英文）", "Default (Chinese and English)"),
    ("tenant_lang_zh", "中文", "Chinese"),
    ("tenant_lang_en", "英文", "English"),
    ("tenant_lang_zh_en", "中文和英文", "Chinese and English"),
    ("tenant_pref_email", "邮箱（可选）", "Email (optional)"),
    (
        "tenant_err_email",
        "请输入有效的邮箱地址，或留空",
        "Enter a valid email address, or leave it empty",
    ),
    ("tenant_prefs_save", "保存设置", "Save"),
    ("tenant_prefs_saved", "已保存", "Saved"),
    (
        "tenant_wechat_paying",
        "为账户 {account} 充值 ¥{amount}，请在微信支付窗口中完成支付",
        "Top up ¥{amount} for account {account}: finish in WeChat Pay's window",
    ),
    (
        "tenant_wechat_cancelled",
        "已取消支付，可再次点击支付",
        "Payment cancelled; tap Pay now to try again",
    ),
    (
        "tenant_wechat_failed",
        "微信支付未成功，请稍后再试",
        "WeChat Pay did not go through; try again later",
    ),
    (
        "tenant_wechat_no_bridge",
        "请在微信中打开本页完成支付",
        "Open this page in WeChat to pay",
    ),
    (
        "tenant_wechat_auth_failed",
        "微信未能确认付款人身份，暂时无法使用微信支付，请稍后重试",
        "WeChat could not confirm who is paying; WeChat Pay is unavailable for now, try again later",
    ),
    (
        "tenant_wechat_unavailable",
        "微信内暂不能使用微信支付，请点右上角在浏览器中打开",
        "WeChat Pay is not available inside WeChat here: open this page in your browser",
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
