//! Reading providers' daily bills as they publish them: the WeChat Pay trade bill (交易账单,
//! UTF-8 CSV, every value prefixed with a backtick, a summary after the lines) and the Alipay
//! business statement (业务明细, GBK CSV between `#` comment lines). Amounts are yuan strings
//! read as decimals.

use domain::Money;

use crate::error::PaymentError;

/// One payment line of a bill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillLine {
    pub out_trade_no: String,
    pub transaction_id: String,
    pub amount_fen: i64,
}

/// Text of a bill in UTF-8 (with or without BOM) or GBK.
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::GBK.decode(bytes).0.into_owned(),
    }
}

/// Splits one CSV record (double quotes may enclose commas; `""` is a quote).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|f| f.trim().trim_start_matches('`').trim().to_owned())
        .collect()
}

fn fen(text: &str) -> Result<i64, PaymentError> {
    Money::parse_amount(text.trim())
        .ok()
        .and_then(|m| m.to_fen().ok())
        .ok_or_else(|| PaymentError::rejected("invalid_bill", format!("amount {text:?}")))
}

fn column(header: &[String], names: &[&str]) -> Result<usize, PaymentError> {
    header
        .iter()
        .position(|h| names.iter().any(|n| h == n))
        .ok_or_else(|| PaymentError::rejected("invalid_bill", format!("no column {}", names[0])))
}

/// The successful payments of a WeChat trade bill.
pub fn wechat_trade_bill(text: &str) -> Result<Vec<BillLine>, PaymentError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = fields(
        lines
            .next()
            .ok_or_else(|| PaymentError::rejected("invalid_bill", "empty bill"))?,
    );
    let (txn, out, state, total) = (
        column(&header, &["微信订单号"])?,
        column(&header, &["商户订单号"])?,
        column(&header, &["交易状态"])?,
        column(&header, &["应结订单金额", "订单金额"])?,
    );
    let mut out_lines = Vec::new();
    for line in lines {
        let f = fields(line);
        // The summary block starts with its own header.
        if f.first().is_some_and(|c| c.starts_with("总交易单数")) {
            break;
        }
        if f.len() <= total.max(state).max(out).max(txn) || f[state] != "SUCCESS" {
            continue;
        }
        out_lines.push(BillLine {
            out_trade_no: f[out].clone(),
            transaction_id: f[txn].clone(),
            amount_fen: fen(&f[total])?,
        });
    }
    Ok(out_lines)
}

/// The payments (业务类型 交易) of an Alipay business statement.
pub fn alipay_statement(text: &str) -> Result<Vec<BillLine>, PaymentError> {
    let mut rows = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let header = fields(
        rows.next()
            .ok_or_else(|| PaymentError::rejected("invalid_bill", "empty statement"))?,
    );
    let (txn, out, kind, total) = (
        column(&header, &["支付宝交易号"])?,
        column(&header, &["商户订单号"])?,
        column(&header, &["业务类型"])?,
        column(&header, &["订单金额（元）", "订单金额(元)"])?,
    );
    let mut lines = Vec::new();
    for row in rows {
        let f = fields(row);
        if f.len() <= total.max(kind).max(out).max(txn) || f[kind] != "交易" {
            continue;
        }
        lines.push(BillLine {
            out_trade_no: f[out].clone(),
            transaction_id: f[txn].clone(),
            amount_fen: fen(&f[total])?,
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_a_wechat_trade_bill() {
        let bill = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\n\
`2026-11-21 10:00:00,`wx1,`1900000109,`0,`,`4200001,`WP1,`o1,`NATIVE,`SUCCESS,`OTHERS,`CNY,`37.50,`0.00,`0,`0,`0.00,`0.00,`,`,`电费充值,`,`0.23000,`0.60%,`37.50,`0.00,`\n\
`2026-11-21 11:00:00,`wx1,`1900000109,`0,`,`4200002,`WP2,`o1,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`5001,`RF1,`10.00,`0.00,`ORIGINAL,`SUCCESS,`电费充值,`,`0.00,`0.60%,`0.00,`10.00,`\n\
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n\
`2,`37.50,`10.00,`0.00,`0.23000,`37.50,`10.00\n";
        assert_eq!(
            wechat_trade_bill(bill).unwrap(),
            [BillLine {
                out_trade_no: "WP1".into(),
                transaction_id: "4200001".into(),
                amount_fen: 3750
            }]
        );
    }

    #[test]
    fn reads_a_gbk_alipay_statement() {
        let text = "#支付宝业务明细查询\n#账号：[20881021462251350156]\n#起始日期：[2026年11月21日 00:00:00]   终止日期：[2026年11月22日 00:00:00]\n#-----------------------------------------业务明细列表----------------------------------------\n\
支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\n\
2026112122001,AL1,交易,\"电费充值, 101室\",2026-11-21 10:00:00,2026-11-21 10:00:05,,,,,159****5620,12.30,12.30,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.07,0.00,\n\
2026112122001,AL1,退款,电费充值,2026-11-21 12:00:00,2026-11-21 12:00:01,,,,,159****5620,-2.00,-2.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,RF2,0.01,0.00,\n\
#-----------------------------------------业务明细列表结束------------------------------------\n#交易合计：1笔，商家实收共12.30元\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let lines = alipay_statement(&decode(&gbk)).unwrap();
        assert_eq!(
            lines,
            [BillLine {
                out_trade_no: "AL1".into(),
                transaction_id: "2026112122001".into(),
                amount_fen: 1230
            }]
        );
    }
}
