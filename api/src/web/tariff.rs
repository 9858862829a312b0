//! The tariff editor: `/tariffs` (list, create) and `/tariffs/{id}` (versions, add a version:
//! flat, time-of-use or tiered).
//!
//! Rules it keeps: creating and adding go through [`crate::service::tariff`], the service the
//! REST API calls, so a version is validated by the domain rules either way; the form is read
//! into a `domain::TariffVersion` field by field, and each field that cannot be read gets its
//! error next to it; a version the domain refuses (periods that overlap or leave a gap, tiers
//! out of order) is explained next to the part it concerns; viewers see but do not change.
//! Versions start at 00:00 China time of the chosen day.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use chrono::{NaiveDate, TimeZone as _, Utc};
use minijinja::{context, Value};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use store::TariffId;

use super::account::local_time;
use super::page::WebError;
use super::query::china_tz;
use super::session::Manager;
use crate::service::tariff as service;

/// The commercial time-of-use day of ARCHITECTURE.md, offered as a starting point.
const DEFAULT_RANGES: &str = "23:00-08:00 valley\n08:00-11:00 peak\n11:00-18:00 flat\n18:00-19:00 peak\n19:00-21:00 sharp\n21:00-23:00 peak";
/// The residential tiers of ARCHITECTURE.md (kWh up to, price), `-` for the last.
const DEFAULT_TIERS: &str = "2760 0.538\n4800 0.588\n- 0.838";

fn parse_id(raw: &str) -> Result<TariffId, WebError> {
    raw.parse::<uuid::Uuid>()
        .map(TariffId::from)
        .map_err(|_| WebError::NotFound)
}

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

async fn list_page(
    m: &Manager,
    status: StatusCode,
    name: &str,
    errors: &BTreeMap<&str, &str>,
) -> Result<HttpResponse, WebError> {
    let state = m.web.state()?.clone();
    let tariffs: Vec<Value> =
        store::tariff::list(&state.db, m.session.org_id, store::Page::new(1, 200))
            .await?
            .items
            .into_iter()
            .map(|t| context! { id => t.id.to_string(), name => t.name, created => local_time(t.created_at) })
            .collect();
    m.web.render_status(
        status,
        "tariffs.html",
        context! {
            tariffs => tariffs,
            name => name,
            errors => Value::from_serialize(errors),
            may_edit => m.session.may_act(),
        },
    )
}

#[get("/tariffs")]
pub async fn list(m: Manager) -> Result<HttpResponse, WebError> {
    list_page(&m, StatusCode::OK, "", &BTreeMap::new()).await
}

#[post("/tariffs")]
pub async fn create(m: Manager, form: web::Form<NameForm>) -> Result<HttpResponse, WebError> {
    m.web.check_csrf(&form.csrf)?;
    if !m.session.may_act() {
        return Err(WebError::Forbidden);
    }
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        let errors = BTreeMap::from([("name", "err_name")]);
        return list_page(&m, StatusCode::UNPROCESSABLE_ENTITY, name, &errors).await;
    }
    let state = m.web.state()?.clone();
    let t = service::create(&state.db, &m.session.ctx(), name.to_owned()).await?;
    Ok(m.web.redirect(&format!("/tariffs/{}", t.id)))
}

/// The add-version form as typed.
#[derive(Deserialize, Serialize, Default, Clone)]
pub struct VersionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    effective_from: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    flat_price: String,
    #[serde(default)]
    tou_ranges: String,
    #[serde(default)]
    price_sharp: String,
    #[serde(default)]
    price_peak: String,
    #[serde(default)]
    price_flat: String,
    #[serde(default)]
    price_valley: String,
    #[serde(default)]
    cycle: String,
    #[serde(default)]
    tiers: String,
}

fn price(raw: &str) -> Option<Decimal> {
    let d: Decimal = raw.trim().parse().ok()?;
    (!d.is_sign_negative() && d.scale() <= 4).then_some(d)
}

/// `HH:MM-HH:MM period` lines.
fn ranges(raw: &str) -> Option<Vec<serde_json::Value>> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (span, period) = line.split_once(char::is_whitespace)?;
            let (start, end) = span.split_once('-')?;
            let period = period.trim();
            ["sharp", "peak", "flat", "valley"].contains(&period).then(
                || serde_json::json!({"period": period, "start": start.trim(), "end": end.trim()}),
            )
        })
        .collect()
}

/// `up_to price` lines, `-` as the last `up_to`.
fn tiers(raw: &str) -> Option<Vec<serde_json::Value>> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut parts = line.split_whitespace();
            let up_to = parts.next()?;
            let p = price(parts.next()?)?;
            if parts.next().is_some() {
                return None;
            }
            let up_to = match up_to {
                "-" => None,
                n => Some(n.parse::<Decimal>().ok()?.to_string()),
            };
            Some(serde_json::json!({"up_to": up_to, "price": p.to_string()}))
        })
        .collect()
}

/// Reads the form into a version, or the errors by field (catalogue keys).
fn read_version(
    f: &VersionForm,
) -> Result<domain::TariffVersion, BTreeMap<&'static str, &'static str>> {
    let mut errors = BTreeMap::new();
    let start = NaiveDate::parse_from_str(f.effective_from.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| {
            china_tz()
                .from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
                .single()
        })
        .map(|t| t.with_timezone(&Utc));
    if start.is_none() {
        errors.insert("effective_from", "err_date");
    }
    let pricing = match f.kind.as_str() {
        "flat" => price(&f.flat_price)
            .map(|p| serde_json::json!({"kind": "flat", "price": p.to_string()}))
            .or_else(|| {
                errors.insert("flat_price", "err_price");
                None
            }),
        "time_of_use" => {
            let rs = ranges(&f.tou_ranges);
            if rs.is_none() {
                errors.insert("tou_ranges", "err_tou_ranges");
            }
            let mut prices = Vec::new();
            for (period, raw, field) in [
                ("sharp", &f.price_sharp, "price_sharp"),
                ("peak", &f.price_peak, "price_peak"),
                ("flat", &f.price_flat, "price_flat"),
                ("valley", &f.price_valley, "price_valley"),
            ] {
                let used = rs
                    .as_ref()
                    .is_some_and(|rs| rs.iter().any(|r| r["period"] == period));
                match (used, price(raw)) {
                    (true, Some(p)) => {
                        prices.push(serde_json::json!({"period": period, "price": p.to_string()}));
                    }
                    (true, None) => {
                        errors.insert(field, "err_price");
                    }
                    (false, _) => {}
                }
            }
            rs.map(|rs| serde_json::json!({"kind": "time_of_use", "rates": {"ranges": rs, "prices": prices}}))
        }
        "tiered" => {
            let cycle = Some(f.cycle.as_str()).filter(|c| matches!(*c, "monthly" | "yearly"));
            if cycle.is_none() {
                errors.insert("cycle", "err_cycle");
            }
            let ts = tiers(&f.tiers);
            if ts.is_none() {
                errors.insert("tiers", "err_tiers");
            }
            match (cycle, ts) {
                (Some(c), Some(ts)) => {
                    Some(serde_json::json!({"kind": "tiered", "cycle": c, "tiers": ts}))
                }
                _ => None,
            }
        }
        _ => {
            errors.insert("kind", "err_tariff_kind");
            None
        }
    };
    let (Some(start), Some(pricing), true) = (start, pricing, errors.is_empty()) else {
        return Err(errors);
    };
    let version = serde_json::json!({"effective_from": start, "pricing": pricing});
    serde_json::from_value::<domain::TariffVersion>(version).map_err(|_| {
        // Times like 25:00 pass the line format but not the domain's reading.
        BTreeMap::from([(
            if f.kind == "time_of_use" {
                "tou_ranges"
            } else {
                "tiers"
            },
            if f.kind == "time_of_use" {
                "err_tou_ranges"
            } else {
                "err_tiers"
            },
        )])
    })
}

async fn tariff_page(
    m: &Manager,
    id: TariffId,
    status: StatusCode,
    form: &VersionForm,
    errors: &BTreeMap<&str, &str>,
    detail: Option<String>,
) -> Result<HttpResponse, WebError> {
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let tariff = store::tariff::get(&state.db, org, id).await?;
    let versions: Vec<Value> = store::tariff::versions(&state.db, org, id)
        .await?
        .into_iter()
        .rev()
        .map(|v| {
            let definition = v.definition_json().unwrap_or(serde_json::Value::Null);
            let summary = summary(&definition);
            context! {
                from => local_time(v.effective_from),
                kind => definition["pricing"]["kind"].as_str().unwrap_or_default().to_owned(),
                summary => summary,
            }
        })
        .collect();
    m.web.render_status(
        status,
        "tariff.html",
        context! {
            tariff => context! { id => tariff.id.to_string(), name => tariff.name },
            versions => versions,
            form => Value::from_serialize(form),
            errors => Value::from_serialize(errors),
            detail => detail,
            added => m.web.req.query_string().contains("added=1"),
            may_edit => m.session.may_act(),
        },
    )
}

/// A one-line description of a version's prices, without words (numbers and period names the
/// template translates would need a structure; this is read by people who know the tariff).
fn summary(definition: &serde_json::Value) -> String {
    let pricing = &definition["pricing"];
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    match pricing["kind"].as_str() {
        Some("flat") => format!("¥{}/kWh", s(&pricing["price"])),
        Some("time_of_use") => pricing["rates"]["prices"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| format!("{} ¥{}", s(&p["period"]), s(&p["price"])))
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
            .unwrap_or_default(),
        Some("tiered") => {
            let tiers = pricing["tiers"]
                .as_array()
                .map(|ts| {
                    ts.iter()
                        .map(|t| match t["up_to"].as_str() {
                            Some(up) => format!("≤{up} kWh ¥{}", s(&t["price"])),
                            None => format!("¥{}", s(&t["price"])),
                        })
                        .collect::<Vec<_>>()
                        .join(" · ")
                })
                .unwrap_or_default();
            format!("{} · {tiers}", s(&pricing["cycle"]))
        }
        _ => String::new(),
    }
}

fn blank_form() -> VersionForm {
    VersionForm {
        effective_from: Utc::now()
            .with_timezone(&china_tz())
            .date_naive()
            .succ_opt()
            .map(|d| d.to_string())
            .unwrap_or_default(),
        kind: "flat".to_owned(),
        tou_ranges: DEFAULT_RANGES.to_owned(),
        cycle: "yearly".to_owned(),
        tiers: DEFAULT_TIERS.to_owned(),
        ..VersionForm::default()
    }
}

#[get("/tariffs/{id}")]
pub async fn page(m: Manager, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let id = parse_id(&path)?;
    tariff_page(
        &m,
        id,
        StatusCode::OK,
        &blank_form(),
        &BTreeMap::new(),
        None,
    )
    .await
}

#[post("/tariffs/{id}/versions")]
pub async fn add_version(
    m: Manager,
    path: web::Path<String>,
    form: web::Form<VersionForm>,
) -> Result<HttpResponse, WebError> {
    m.web.check_csrf(&form.csrf)?;
    if !m.session.may_act() {
        return Err(WebError::Forbidden);
    }
    let id = parse_id(&path)?;
    let state = m.web.state()?.clone();
    let version = match read_version(&form) {
        Ok(v) => v,
        Err(errors) => {
            return tariff_page(
                &m,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                &errors,
                None,
            )
            .await
        }
    };
    match service::add_version(&state.db, &m.session.ctx(), id, version).await {
        Ok(_) => Ok(m.web.redirect(&format!("/tariffs/{id}?added=1"))),
        Err(e) if e.code() == "invalid_tariff" || e.code() == "already_exists" => {
            let (field, key) = match (e.code(), form.kind.as_str()) {
                ("already_exists", _) => ("effective_from", "err_version_exists"),
                (_, "time_of_use") => ("tou_ranges", "err_tariff_invalid"),
                (_, "tiered") => ("tiers", "err_tariff_invalid"),
                _ => ("flat_price", "err_tariff_invalid"),
            };
            let errors = BTreeMap::from([(field, key)]);
            tariff_page(
                &m,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                &errors,
                Some(e.to_string()),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_lines_read_as_a_valid_version() {
        let form = VersionForm {
            kind: "time_of_use".into(),
            price_sharp: "1.35".into(),
            price_peak: "1.10".into(),
            price_flat: "0.70".into(),
            price_valley: "0.33".into(),
            ..blank_form()
        };
        let v = read_version(&form).unwrap();
        v.validate().unwrap();
        let form = VersionForm {
            kind: "tiered".into(),
            ..blank_form()
        };
        read_version(&form).unwrap().validate().unwrap();
        let form = VersionForm {
            kind: "tiered".into(),
            tiers: "abc".into(),
            ..blank_form()
        };
        assert_eq!(read_version(&form).unwrap_err()["tiers"], "err_tiers");
    }
}
