//! Site → building → unit browsing: the sites with their buildings, a building's status board
//! (each unit a tile coloured and labelled by state), its printable door-QR sheet, and the
//! gateways and meters lists.
//!
//! Rules it keeps: everything is of the signed-in manager's organization (another's building
//! is 404); QR codes point at `WATTPAY_PUBLIC_BASE_URL` + `/t/{account_no}`, the door page.

use std::collections::HashMap;

use actix_web::{get, web, HttpResponse};
use minijinja::{context, Value};
use qrcode::render::svg;
use qrcode::QrCode;
use store::BuildingId;

use super::account::local_time;
use super::page::WebError;
use super::query;
use super::session::Manager;

fn parse_building_id(raw: &str) -> Result<BuildingId, WebError> {
    raw.parse::<uuid::Uuid>()
        .map(BuildingId::from)
        .map_err(|_| WebError::NotFound)
}

#[get("/sites")]
pub async fn sites(m: Manager) -> Result<HttpResponse, WebError> {
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let sites = store::site::list(&state.db, org, store::Page::all())
        .await?
        .items;
    let mut out = Vec::with_capacity(sites.len());
    for site in sites {
        let buildings =
            store::building::list(&state.db, org, Some(site.id), store::Page::all()).await?;
        let mut rows = Vec::with_capacity(buildings.items.len());
        for b in buildings.items {
            let units = store::unit::list(&state.db, org, Some(b.id), store::Page::new(1, 1))
                .await?
                .total;
            rows.push(context! { id => b.id.to_string(), name => b.name, units => units });
        }
        out.push(context! { name => site.name, address => site.address, buildings => rows });
    }
    m.web.render("sites.html", context! { sites => out })
}

#[get("/buildings/{id}")]
pub async fn building_board(m: Manager, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let id = parse_building_id(&path)?;
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let building = store::building::get(&state.db, org, id).await?;
    let site = store::site::get(&state.db, org, building.site_id).await?;
    let tiles = query::tiles(&state.db, org, id).await?;
    m.web.render(
        "building.html",
        context! {
            building => building.name,
            building_id => id.to_string(),
            site => site.name,
            tiles => tiles,
        },
    )
}

/// The SVG QR code of a URL.
pub fn qr_svg(url: &str) -> Result<String, WebError> {
    let code = QrCode::new(url.as_bytes())
        .map_err(|e| WebError::Internal(anyhow::anyhow!("QR code for {url}: {e}")))?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(180, 180)
        .quiet_zone(true)
        .build();
    // Inline in HTML: drop the XML declaration and label the image for screen readers.
    let image = image
        .split_once("?>")
        .map_or(image.as_str(), |(_, rest)| rest)
        .replacen(
            "<svg ",
            &format!("<svg role=\"img\" aria-label=\"{url}\" "),
            1,
        );
    Ok(image)
}

#[get("/buildings/{id}/qr")]
pub async fn qr_sheet(m: Manager, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let id = parse_building_id(&path)?;
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let building = store::building::get(&state.db, org, id).await?;
    let site = store::site::get(&state.db, org, building.site_id).await?;
    let base = state
        .settings
        .public_base_url
        .trim_end_matches('/')
        .to_owned();
    let mut codes = Vec::new();
    for tile in query::tiles(&state.db, org, id).await? {
        let Some(no) = tile.account_no else {
            continue;
        };
        let url = format!("{base}/t/{no}");
        codes.push(context! { unit => tile.unit, account_no => no, svg => qr_svg(&url)? });
    }
    m.web.render(
        "qr_sheet.html",
        context! {
            building => building.name,
            building_id => id.to_string(),
            site => site.name,
            codes => codes,
        },
    )
}

#[get("/gateways")]
pub async fn gateways(m: Manager) -> Result<HttpResponse, WebError> {
    let state = m.web.state()?.clone();
    let org = m.session.org_id;
    let gateways = store::gateway::list(&state.db, org, store::Page::all())
        .await?
        .items;
    let names: HashMap<_, _> = gateways
        .iter()
        .map(|g| (g.id, g.gateway_id.clone()))
        .collect();
    let units: HashMap<_, _> = store::unit::list(&state.db, org, None, store::Page::all())
        .await?
        .items
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let meters: Vec<Value> = store::meter::list(&state.db, org, None, store::Page::all())
        .await?
        .items
        .into_iter()
        .map(|me| {
            context! {
                wire_id => me.wire_id,
                gateway => names.get(&me.gateway_id).cloned().unwrap_or_default(),
                bus => me.bus,
                slave => me.slave,
                model => me.model.unwrap_or_default(),
                ct_ratio => me.ct_ratio,
                unit => me.unit_id.and_then(|u| units.get(&u).cloned()).unwrap_or_default(),
            }
        })
        .collect();
    let gateways: Vec<Value> = gateways
        .into_iter()
        .map(|g| {
            context! {
                wire_id => g.gateway_id,
                name => g.name,
                online => g.online,
                last_seen => g.last_seen_at.map(local_time),
            }
        })
        .collect();
    m.web.render(
        "gateways.html",
        context! { gateways => gateways, meters => meters },
    )
}
