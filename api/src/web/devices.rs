//! Adding devices from the dashboard: `/gateways/new` registers a gateway and shows its MQTT
//! credentials once, with a ready agent configuration (TOML) to download; `/meters/new` adds a
//! meter to a gateway and a unit.
//!
//! Rules it keeps: both go through [`crate::service::devices`], the service of the REST API's
//! `POST /api/v1/gateways` and `POST /api/v1/meters`, so the password is generated and hashed
//! in one place and a new meter republishes its gateway's config; the password is on the page
//! that answers the registration and nowhere else (it is not stored, and the page is
//! `no-store`); field errors are shown next to the fields; technicians, operators and admins
//! may add devices, viewers may not.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use domain::Role;
use minijinja::{context, Value};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use store::{GatewayId, OrgId, SiteId, UnitId};

use super::page::{encode_component, WebError};
use super::session::Manager;
use crate::service::devices;

fn may_add(m: &Manager) -> bool {
    matches!(
        m.session.role,
        Role::OrgAdmin | Role::Operator | Role::Technician | Role::PlatformAdmin
    )
}

#[derive(Deserialize, Serialize, Default)]
pub struct GatewayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    wire_id: String,
    #[serde(default)]
    name: String,
}

async fn sites(db: &sea_orm::DatabaseConnection, org: OrgId) -> Result<Vec<Value>, WebError> {
    Ok(store::site::list(db, org, store::Page::new(1, 200))
        .await?
        .items
        .into_iter()
        .map(|s| context! { id => s.id.to_string(), name => s.name })
        .collect())
}

async fn gateway_form(
    m: &Manager,
    status: StatusCode,
    form: &GatewayForm,
    errors: &BTreeMap<&str, &str>,
) -> Result<HttpResponse, WebError> {
    let state = m.web.state()?.clone();
    m.web.render_status(
        status,
        "gateway_new.html",
        context! {
            sites => sites(&state.db, m.session.org_id).await?,
            form => Value::from_serialize(form),
            errors => Value::from_serialize(errors),
        },
    )
}

#[get("/gateways/new")]
pub async fn new_gateway(m: Manager) -> Result<HttpResponse, WebError> {
    if !may_add(&m) {
        return Err(WebError::Forbidden);
    }
    gateway_form(
        &m,
        StatusCode::OK,
        &GatewayForm::default(),
        &BTreeMap::new(),
    )
    .await
}

/// The agent's configuration for a new gateway: ARCHITECTURE.md's file with this gateway's id
/// and credentials, and one bus to fill in.
fn agent_toml(wire_id: &str, broker: &str) -> String {
    format!(
        "# wattpay-agent configuration for {wire_id}\n\
         gateway_id = \"{wire_id}\"\n\
         data_dir = \"/var/lib/wattpay-agent\"        # the store-and-forward queue lives here\n\
         \n\
         [mqtt]\n\
         url = \"{broker}\"\n\
         username = \"{wire_id}\"\n\
         password_file = \"/etc/wattpay-agent/password\"   # the password shown once, alone on one line\n\
         \n\
         [[bus]]\n\
         name = \"rs485-1\"\n\
         transport = \"rtu\"                           # rtu | tcp | rtu-over-tcp\n\
         device = \"/dev/ttyUSB0\"\n\
         baud = 9600\n\
         parity = \"N\"\n\
         poll_interval = \"60s\"\n\
         timeout = \"500ms\"\n\
         # Meters added on the dashboard arrive with the retained config message.\n"
    )
}

/// The broker address agents dial: the deployment's host on the MQTT TLS port.
fn broker_url(public_base_url: &str) -> String {
    let host = public_base_url
        .split("://")
        .nth(1)
        .unwrap_or(public_base_url)
        .split(['/', ':'])
        .next()
        .unwrap_or("localhost");
    format!("mqtts://{host}:8883")
}

#[post("/gateways")]
pub async fn create_gateway(
    m: Manager,
    form: web::Form<GatewayForm>,
) -> Result<HttpResponse, WebError> {
    m.web.check_csrf(&form.csrf)?;
    if !may_add(&m) {
        return Err(WebError::Forbidden);
    }
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let mut errors = BTreeMap::new();
    let site = form.site.parse::<uuid::Uuid>().ok().map(SiteId::from);
    let site = match site {
        Some(s) => match store::site::get(&state.db, org, s).await {
            Ok(_) => Some(s),
            Err(store::StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    if site.is_none() {
        errors.insert("site", "err_site");
    }
    let wire_id = form.wire_id.trim().to_owned();
    if !store::gateway::is_valid_wire_id(&wire_id) {
        errors.insert("wire_id", "err_gateway_id");
    }
    let name = form.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        errors.insert("name", "err_name");
    }
    let (Some(site), true) = (site, errors.is_empty()) else {
        return gateway_form(&m, StatusCode::UNPROCESSABLE_ENTITY, &form, &errors).await;
    };
    let (g, password) =
        match devices::create_gateway(&state.db, &m.session.ctx(), site, wire_id, name).await {
            Ok(created) => created,
            Err(e) if e.code() == "already_exists" => {
                let errors = BTreeMap::from([("wire_id", "err_gateway_taken")]);
                return gateway_form(&m, StatusCode::UNPROCESSABLE_ENTITY, &form, &errors).await;
            }
            Err(e) => return Err(e.into()),
        };
    let toml = agent_toml(&g.gateway_id, &broker_url(&state.settings.public_base_url));
    m.web.render_status(
        StatusCode::CREATED,
        "gateway_created.html",
        context! {
            gateway => g.gateway_id.clone(),
            gateway_name => g.name,
            password => password,
            toml => &toml,
            toml_href => format!("data:application/toml;charset=utf-8,{}", encode_component(&toml)),
            add_meter => format!("/meters/new?gateway={}", g.id),
        },
    )
}

#[derive(Deserialize, Serialize, Default)]
pub struct MeterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    gateway: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    bus: String,
    #[serde(default)]
    slave: String,
    #[serde(default)]
    wire_id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    ct_ratio: String,
}

async fn meter_form(
    m: &Manager,
    status: StatusCode,
    form: &MeterForm,
    errors: &BTreeMap<&str, &str>,
) -> Result<HttpResponse, WebError> {
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let gateways: Vec<Value> = store::gateway::list(&state.db, org, store::Page::new(1, 200))
        .await?
        .items
        .into_iter()
        .map(
            |g| context! { id => g.id.to_string(), name => format!("{} {}", g.gateway_id, g.name) },
        )
        .collect();
    let buildings: BTreeMap<_, _> =
        store::building::list(&state.db, org, None, store::Page::new(1, 200))
            .await?
            .items
            .into_iter()
            .map(|b| (b.id, b.name))
            .collect();
    let units: Vec<Value> = store::unit::list(&state.db, org, None, store::Page::new(1, 200))
        .await?
        .items
        .into_iter()
        .map(|u| {
            let building = buildings.get(&u.building_id).cloned().unwrap_or_default();
            context! { id => u.id.to_string(), name => format!("{building} {}", u.name) }
        })
        .collect();
    m.web.render_status(
        status,
        "meter_new.html",
        context! {
            gateways => gateways,
            units => units,
            form => Value::from_serialize(form),
            errors => Value::from_serialize(errors),
            added => m.web.req.query_string().contains("added="),
        },
    )
}

#[derive(Deserialize)]
pub struct NewMeterQuery {
    gateway: Option<String>,
}

#[get("/meters/new")]
pub async fn new_meter(m: Manager, q: web::Query<NewMeterQuery>) -> Result<HttpResponse, WebError> {
    if !may_add(&m) {
        return Err(WebError::Forbidden);
    }
    let form = MeterForm {
        gateway: q.gateway.clone().unwrap_or_default(),
        bus: "rs485-1".to_owned(),
        model: "acrel-ddsy1352".to_owned(),
        ct_ratio: "1".to_owned(),
        ..MeterForm::default()
    };
    meter_form(&m, StatusCode::OK, &form, &BTreeMap::new()).await
}

#[post("/meters")]
pub async fn create_meter(
    m: Manager,
    form: web::Form<MeterForm>,
) -> Result<HttpResponse, WebError> {
    m.web.check_csrf(&form.csrf)?;
    if !may_add(&m) {
        return Err(WebError::Forbidden);
    }
    let state = m.web.state()?.clone();
    let mut errors = BTreeMap::new();
    let gateway = form.gateway.parse::<uuid::Uuid>().ok().map(GatewayId::from);
    if gateway.is_none() {
        errors.insert("gateway", "err_choose_gateway");
    }
    let raw_unit = form.unit.trim();
    let unit = raw_unit.parse::<uuid::Uuid>().ok().map(UnitId::from);
    if !raw_unit.is_empty() && unit.is_none() {
        errors.insert("unit", "err_choose_unit");
    }
    let bus = form.bus.trim().to_owned();
    if bus.is_empty() || bus.chars().count() > 200 {
        errors.insert("bus", "err_name");
    }
    let slave = form
        .slave
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|s| (1..=247).contains(s));
    if slave.is_none() {
        errors.insert("slave", "err_slave");
    }
    let wire_id = form.wire_id.trim().to_owned();
    let wire_ok = !wire_id.is_empty()
        && wire_id.len() <= 64
        && wire_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !wire_ok {
        errors.insert("wire_id", "err_meter_id");
    }
    let model = form.model.trim().to_owned();
    if model.is_empty() {
        errors.insert("model", "err_required");
    }
    let ct_ratio = form
        .ct_ratio
        .trim()
        .parse::<Decimal>()
        .ok()
        .filter(|d| *d > Decimal::ZERO);
    if ct_ratio.is_none() {
        errors.insert("ct_ratio", "err_ct_ratio");
    }
    let (Some(gateway), Some(slave), Some(ct_ratio), true) =
        (gateway, slave, ct_ratio, errors.is_empty())
    else {
        return meter_form(&m, StatusCode::UNPROCESSABLE_ENTITY, &form, &errors).await;
    };
    let new = store::meter::NewMeter {
        gateway_id: gateway,
        unit_id: unit,
        bus,
        slave,
        wire_id,
        model: Some(model),
        register_map: None,
        ct_ratio,
        max_power_kw: Decimal::from(60),
    };
    match devices::add_meter(&state.db, &m.session.ctx(), new).await {
        Ok(meter) => Ok(m.web.redirect(&format!(
            "/meters/new?gateway={}&added={}",
            meter.gateway_id,
            encode_component(&meter.wire_id)
        ))),
        Err(e) => {
            let (field, key) = match e.code() {
                "already_exists" => ("wire_id", "err_meter_taken"),
                "gateway_not_found" | "not_found" => ("gateway", "err_choose_gateway"),
                "unit_not_found" => ("unit", "err_choose_unit"),
                "invalid" | "invalid_model" => ("model", "err_model"),
                _ => return Err(e.into()),
            };
            let errors = BTreeMap::from([(field, key)]);
            meter_form(&m, StatusCode::UNPROCESSABLE_ENTITY, &form, &errors).await
        }
    }
}
