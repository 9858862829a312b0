//! Alipay's RSA2 signature rules, as alipay-sdk-java `rsaCheckV1` and the Python SDK apply
//! them: form-decode **all** received parameters in the `charset` they declare (UTF-8 by
//! default, GBK happens), drop `sign`, `sign_type` and empty values, sort keys ascending, join
//! `k=v` with `&`, encode in that charset, SHA256withRSA against the base64 `sign`.

use std::collections::BTreeMap;

use encoding_rs::Encoding;
use rsa::{RsaPrivateKey, RsaPublicKey};

use crate::error::PaymentError;
use crate::key::{sign_sha256, verify_sha256};

/// Why a notification was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AlipayVerifyError {
    #[error("no sign parameter")]
    MissingSign,
    #[error("unsupported sign_type {0}")]
    SignType(String),
    #[error("unknown charset {0}")]
    Charset(String),
    #[error("signature does not verify")]
    BadSignature,
}

fn unhex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decoding of one form component to raw bytes (`+` is a space).
fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => match (unhex(input[i + 1]), unhex(input[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// The charset a form declares (`charset=`), as an encoding.
fn form_charset(pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<&'static Encoding, AlipayVerifyError> {
    let declared = pairs
        .iter()
        .find(|(k, _)| k.as_slice() == b"charset")
        .map(|(_, v)| String::from_utf8_lossy(v).trim().to_owned());
    match declared {
        None => Ok(encoding_rs::UTF_8),
        Some(label) if label.is_empty() => Ok(encoding_rs::UTF_8),
        Some(label) => {
            Encoding::for_label(label.as_bytes()).ok_or(AlipayVerifyError::Charset(label))
        }
    }
}

/// Decodes a form body in its declared charset into parameters (a repeated key keeps the
/// last value, as servlet-style `getParameter` maps of the SDK examples do).
pub fn parse_form(
    body: &[u8],
) -> Result<(BTreeMap<String, String>, &'static Encoding), AlipayVerifyError> {
    let raw: Vec<(Vec<u8>, Vec<u8>)> = body
        .split(|b| *b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &[][..]),
            };
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let encoding = form_charset(&raw)?;
    let params = raw
        .into_iter()
        .map(|(k, v)| {
            (
                encoding.decode_without_bom_handling(&k).0.into_owned(),
                encoding.decode_without_bom_handling(&v).0.into_owned(),
            )
        })
        .collect();
    Ok((params, encoding))
}

/// The signed content: every parameter but `sign`/`sign_type` and empty ones, sorted.
pub fn signing_content(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .filter(|(k, v)| k.as_str() != "sign" && k.as_str() != "sign_type" && !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Verifies a form-encoded notification and answers its parameters.
pub fn verify_notification(
    alipay_public_key: &RsaPublicKey,
    body: &[u8],
) -> Result<BTreeMap<String, String>, AlipayVerifyError> {
    let (params, encoding) = parse_form(body)?;
    let sign = params
        .get("sign")
        .filter(|s| !s.is_empty())
        .ok_or(AlipayVerifyError::MissingSign)?;
    if let Some(kind) = params.get("sign_type") {
        if kind != "RSA2" {
            return Err(AlipayVerifyError::SignType(kind.clone()));
        }
    }
    let content = signing_content(&params);
    let (bytes, _, _) = encoding.encode(&content);
    if verify_sha256(alipay_public_key, &bytes, sign) {
        Ok(params)
    } else {
        Err(AlipayVerifyError::BadSignature)
    }
}

/// Signs request parameters (UTF-8) and answers the `sign` value.
pub fn sign_params(
    app_private_key: &RsaPrivateKey,
    params: &BTreeMap<String, String>,
) -> Result<String, PaymentError> {
    sign_sha256(app_private_key, signing_content(params).as_bytes())
}

/// The exact JSON text of `{method}_response` in a gateway answer (what Alipay signed), and
/// the answer's `sign`.
pub fn response_node<'a>(body: &'a str, node: &str) -> Option<(&'a str, Option<String>)> {
    let key = format!("\"{node}\"");
    let start = body.find(&key)? + key.len();
    let rest = &body[start..];
    let open = rest.find('{')?;
    let bytes = rest.as_bytes();
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    let node_text = &rest[open..=i];
                    let sign = serde_json::from_str::<serde_json::Value>(body)
                        .ok()
                        .and_then(|v| v["sign"].as_str().map(str::to_owned));
                    return Some((node_text, sign));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn decodes_gbk_forms_and_builds_the_sorted_content() {
        // "电费" in GBK is B5 E7 B7 D1.
        let body = b"subject=%B5%E7%B7%D1&charset=GBK&b=&sign_type=RSA2&sign=x&a=1+2";
        let (params, encoding) = parse_form(body).unwrap();
        assert_eq!(encoding, encoding_rs::GBK);
        assert_eq!(params["subject"], "电费");
        assert_eq!(signing_content(&params), "a=1 2&charset=GBK&subject=电费");
    }

    #[test]
    fn finds_the_signed_response_node() {
        let body = r#"{"alipay_trade_query_response":{"code":"10000","msg":"a}\"b"},"sign":"S"}"#;
        let (node, sign) = response_node(body, "alipay_trade_query_response").unwrap();
        assert_eq!(node, r#"{"code":"10000","msg":"a}\"b"}"#);
        assert_eq!(sign.as_deref(), Some("S"));
    }
}
