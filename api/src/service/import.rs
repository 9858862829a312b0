//! CSV imports of units, tenants and meters (批量导入).
//!
//! Rules kept here: the whole file is checked before anything is written, and every bad row is
//! reported (`{row, field, code, message}`, the header being row 1, as a spreadsheet numbers
//! them); a file with any bad row imports nothing; a clean file is imported in the caller's one
//! transaction and audited. Names (site, building, unit, gateway) are resolved within the
//! caller's organization only, so a file can never reach another organization's rows. Meters
//! imported write one `gateway.config_changed` outbox row per gateway, as meter creation does.

pub mod csv;

use std::collections::HashSet;

use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;
use serde::Serialize;
use store::bulk::Directory;
use store::{BuildingId, GatewayId, SiteId, UnitId, UnitKind};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::OrgContext;
use crate::error::{ApiError, FieldError};

/// The most data rows one file may hold.
pub const MAX_ROWS: usize = 5000;

/// What a file imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Units,
    Tenants,
    Meters,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "units" => Some(Kind::Units),
            "tenants" => Some(Kind::Tenants),
            "meters" => Some(Kind::Meters),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Units => "units",
            Kind::Tenants => "tenants",
            Kind::Meters => "meters",
        }
    }

    /// Required and optional columns.
    fn columns(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Kind::Units => (&["site", "building", "unit"], &["kind"]),
            Kind::Tenants => (&["name"], &["phone"]),
            Kind::Meters => (
                &["gateway", "bus", "slave", "wire_id", "model"],
                &["site", "building", "unit", "ct_ratio", "max_power_kw"],
            ),
        }
    }
}

/// What an import found and did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    /// `units`, `tenants` or `meters`.
    pub kind: String,
    pub dry_run: bool,
    /// Whether every row is good (a non-dry run then imported them all).
    pub valid: bool,
    /// Data rows in the file.
    pub rows: usize,
    /// Every bad row and field; empty when `valid`.
    pub errors: Vec<FieldError>,
    /// Ids of the rows created (empty on a dry run).
    pub created: Vec<Uuid>,
    /// Buildings a units import creates (or would create) because the file names them.
    pub buildings_created: usize,
}

struct Row<'a> {
    line: u64,
    cols: &'a [String],
    fields: &'a [String],
}

impl Row<'_> {
    fn get(&self, name: &str) -> &str {
        self.cols
            .iter()
            .position(|c| c == name)
            .and_then(|i| self.fields.get(i))
            .map_or("", |s| s.trim())
    }
}

fn err(
    errors: &mut Vec<FieldError>,
    row: u64,
    field: &str,
    code: &'static str,
    msg: impl Into<String>,
) {
    errors.push(FieldError {
        row: Some(row),
        field: field.to_owned(),
        code,
        message: msg.into(),
    });
}

/// Checks the file and, when `write` and it is clean, imports it on `conn` (the caller's
/// transaction, which it commits only when the report is `valid`).
pub async fn run(
    conn: &impl ConnectionTrait,
    ctx: &OrgContext,
    kind: Kind,
    text: &str,
    write: bool,
) -> Result<ImportReport, ApiError> {
    let mut report = ImportReport {
        kind: kind.name().to_owned(),
        dry_run: !write,
        valid: false,
        rows: 0,
        errors: Vec::new(),
        created: Vec::new(),
        buildings_created: 0,
    };
    let records = match csv::parse(text) {
        Ok(r) => r,
        Err(m) => {
            err(&mut report.errors, m.line, "", "malformed_csv", m.message);
            return Ok(report);
        }
    };
    let Some((header, data)) = records.split_first() else {
        err(
            &mut report.errors,
            1,
            "",
            "empty_file",
            "the file has no header row",
        );
        return Ok(report);
    };
    report.rows = data.len();
    if data.len() > MAX_ROWS {
        err(
            &mut report.errors,
            1,
            "",
            "too_many_rows",
            format!("at most {MAX_ROWS} rows per file"),
        );
        return Ok(report);
    }
    let cols: Vec<String> = header
        .fields
        .iter()
        .map(|c| c.trim().to_lowercase())
        .collect();
    let (required, optional) = kind.columns();
    for (i, c) in cols.iter().enumerate() {
        if !required.contains(&c.as_str()) && !optional.contains(&c.as_str()) {
            err(
                &mut report.errors,
                1,
                c,
                "unknown_column",
                format!(
                    "unknown column; the columns are {} (required) and {} (optional)",
                    required.join(", "),
                    optional.join(", ")
                ),
            );
        } else if cols[..i].contains(c) {
            err(
                &mut report.errors,
                1,
                c,
                "duplicate_column",
                "this column appears twice",
            );
        }
    }
    for r in required {
        if !cols.iter().any(|c| c == r) {
            err(
                &mut report.errors,
                1,
                r,
                "missing_column",
                "a required column is missing",
            );
        }
    }
    if !report.errors.is_empty() {
        return Ok(report);
    }
    let dir = store::bulk::directory(conn, ctx.scope()).await?;
    let rows: Vec<Row<'_>> = data
        .iter()
        .map(|r| Row {
            line: r.line,
            cols: &cols,
            fields: &r.fields,
        })
        .collect();
    for r in &rows {
        if r.fields.len() > cols.len() {
            err(
                &mut report.errors,
                r.line,
                "",
                "too_many_fields",
                format!("{} fields for {} columns", r.fields.len(), cols.len()),
            );
        }
    }
    match kind {
        Kind::Units => units(conn, ctx, &dir, &rows, write, &mut report).await,
        Kind::Tenants => tenants(conn, ctx, &dir, &rows, write, &mut report).await,
        Kind::Meters => meters(conn, ctx, &dir, &rows, write, &mut report).await,
    }?;
    report.valid = report.errors.is_empty();
    if report.valid && write {
        ctx.audit(
            conn,
            &format!("import.{}", kind.name()),
            "import",
            kind.name(),
            serde_json::json!({"rows": report.rows, "created": report.created,
                "buildings_created": report.buildings_created}),
        )
        .await?;
    }
    Ok(report)
}

/// A site by name or id.
fn find_site(dir: &Directory, name: &str) -> Result<SiteId, (&'static str, &'static str)> {
    if let Ok(id) = name.parse::<Uuid>() {
        return dir
            .sites
            .iter()
            .find(|s| s.id.as_uuid() == id)
            .map(|s| s.id)
            .ok_or(("unknown_site", "no such site"));
    }
    let mut found = dir.sites.iter().filter(|s| s.name == name);
    match (found.next(), found.next()) {
        (Some(s), None) => Ok(s.id),
        (None, _) => Err(("unknown_site", "no site of this name")),
        (Some(_), Some(_)) => Err((
            "ambiguous_site",
            "several sites have this name: give its id",
        )),
    }
}

fn find_building(dir: &Directory, site: SiteId, name: &str) -> Option<BuildingId> {
    dir.buildings
        .iter()
        .find(|b| b.site_id == site && b.name == name)
        .map(|b| b.id)
}

fn valid_text(errors: &mut Vec<FieldError>, r: &Row<'_>, field: &str) -> Option<String> {
    let v = r.get(field);
    if v.is_empty() || v.chars().count() > 200 {
        err(
            errors,
            r.line,
            field,
            if v.is_empty() { "required" } else { "too_long" },
            "1 to 200 characters",
        );
        return None;
    }
    Some(v.to_owned())
}

async fn units(
    conn: &impl ConnectionTrait,
    ctx: &OrgContext,
    dir: &Directory,
    rows: &[Row<'_>],
    write: bool,
    report: &mut ImportReport,
) -> Result<(), ApiError> {
    let mut planned = Vec::new();
    let mut seen = HashSet::new();
    for r in rows {
        let errors = &mut report.errors;
        let site = match find_site(dir, r.get("site")) {
            Ok(s) => Some(s),
            Err((code, msg)) => {
                err(errors, r.line, "site", code, msg);
                None
            }
        };
        let building = valid_text(errors, r, "building");
        let name = valid_text(errors, r, "unit");
        let kind = match r.get("kind") {
            "" | "flat" | "住宅" => Some(UnitKind::Flat),
            "shop" | "商铺" => Some(UnitKind::Shop),
            _ => {
                err(
                    errors,
                    r.line,
                    "kind",
                    "invalid_kind",
                    "flat (住宅) or shop (商铺)",
                );
                None
            }
        };
        let (Some(site), Some(building), Some(name), Some(kind)) = (site, building, name, kind)
        else {
            continue;
        };
        let existing = find_building(dir, site, &building);
        let taken = existing.is_some_and(|b| {
            dir.units
                .iter()
                .any(|u| u.building_id == b && u.name == name)
        });
        if taken || !seen.insert((site, building.clone(), name.clone())) {
            err(
                errors,
                r.line,
                "unit",
                "duplicate",
                "this building already has a unit of this name",
            );
            continue;
        }
        planned.push((site, building, existing, name, kind));
    }
    let mut new_buildings: Vec<(SiteId, String, Option<BuildingId>)> = Vec::new();
    for (site, building, existing, _, _) in &planned {
        if existing.is_none()
            && !new_buildings
                .iter()
                .any(|(s, b, _)| s == site && b == building)
        {
            new_buildings.push((*site, building.clone(), None));
        }
    }
    report.buildings_created = new_buildings.len();
    if !write || !report.errors.is_empty() {
        return Ok(());
    }
    for (site, name, id) in &mut new_buildings {
        *id = Some(
            store::building::create(conn, ctx.scope(), *site, name)
                .await?
                .id,
        );
    }
    for (site, building, existing, name, kind) in planned {
        let b = existing.or_else(|| {
            new_buildings
                .iter()
                .find(|(s, n, _)| *s == site && *n == building)
                .and_then(|(_, _, id)| *id)
        });
        let Some(b) = b else { continue };
        let u = store::unit::create(conn, ctx.scope(), b, &name, kind).await?;
        report.created.push(u.id.into());
    }
    Ok(())
}

async fn tenants(
    conn: &impl ConnectionTrait,
    ctx: &OrgContext,
    dir: &Directory,
    rows: &[Row<'_>],
    write: bool,
    report: &mut ImportReport,
) -> Result<(), ApiError> {
    let mut planned = Vec::new();
    let mut phones: HashSet<String> = dir.tenant_phones.iter().cloned().collect();
    for r in rows {
        let errors = &mut report.errors;
        let name = valid_text(errors, r, "name");
        let phone = match r.get("phone") {
            "" => Some(None),
            p => match crate::routes::tenant::valid_phone(p) {
                Ok(p) if phones.insert(p.clone()) => Some(Some(p)),
                Ok(_) => {
                    err(
                        errors,
                        r.line,
                        "phone",
                        "duplicate",
                        "a tenant with this phone exists (or an earlier row has it)",
                    );
                    None
                }
                Err(e) => {
                    err(errors, r.line, "phone", e.code(), e.to_string());
                    None
                }
            },
        };
        if let (Some(name), Some(phone)) = (name, phone) {
            planned.push((name, phone));
        }
    }
    if !write || !report.errors.is_empty() {
        return Ok(());
    }
    for (name, phone) in planned {
        let t = store::tenant::create(conn, ctx.org_id, &name, phone.as_deref()).await?;
        report.created.push(t.id.into());
    }
    Ok(())
}

fn positive(
    errors: &mut Vec<FieldError>,
    r: &Row<'_>,
    field: &str,
    default: Decimal,
) -> Option<Decimal> {
    match r.get(field) {
        "" => Some(default),
        v => match v.parse::<Decimal>() {
            Ok(d) if d > Decimal::ZERO => Some(d),
            _ => {
                err(
                    errors,
                    r.line,
                    field,
                    "invalid_decimal",
                    "a positive decimal like 1 or 0.5",
                );
                None
            }
        },
    }
}

async fn meters(
    conn: &impl ConnectionTrait,
    ctx: &OrgContext,
    dir: &Directory,
    rows: &[Row<'_>],
    write: bool,
    report: &mut ImportReport,
) -> Result<(), ApiError> {
    let mut planned = Vec::new();
    let mut wire_ids: HashSet<(GatewayId, String)> = dir.meters.iter().cloned().collect();
    for r in rows {
        let errors = &mut report.errors;
        let gateway = dir
            .gateways
            .iter()
            .find(|g| g.gateway_id == r.get("gateway"))
            .map(|g| g.id);
        if gateway.is_none() {
            err(
                errors,
                r.line,
                "gateway",
                "unknown_gateway",
                "no gateway with this id (gw-...) in the organization",
            );
        }
        let bus = valid_text(errors, r, "bus");
        let slave = match r.get("slave").parse::<i32>() {
            Ok(s) if (1..=247).contains(&s) => Some(s),
            _ => {
                err(
                    errors,
                    r.line,
                    "slave",
                    "invalid_slave",
                    "slave must be 1 to 247",
                );
                None
            }
        };
        let wire = r.get("wire_id").to_owned();
        let mut wire_ok = store::meter::is_valid_wire_id(&wire);
        if !wire_ok {
            err(
                errors,
                r.line,
                "wire_id",
                "invalid_wire_id",
                "[A-Za-z0-9_-], 1 to 64 characters",
            );
        }
        if let (Some(g), true) = (gateway, wire_ok) {
            if !wire_ids.insert((g, wire.clone())) {
                err(
                    errors,
                    r.line,
                    "wire_id",
                    "duplicate",
                    "the gateway already has a meter with this id (or an earlier row has)",
                );
                wire_ok = false;
            }
        }
        let model = valid_text(errors, r, "model");
        let ct = positive(errors, r, "ct_ratio", Decimal::ONE);
        let max = positive(errors, r, "max_power_kw", Decimal::from(60));
        let unit = match (r.get("site"), r.get("building"), r.get("unit")) {
            ("", "", "") => Some(None),
            (site, building, unit) => match find_site(dir, site) {
                Err((code, msg)) => {
                    err(errors, r.line, "site", code, msg);
                    None
                }
                Ok(site) => {
                    let found: Option<UnitId> = find_building(dir, site, building).and_then(|b| {
                        dir.units
                            .iter()
                            .find(|u| u.building_id == b && u.name == unit)
                            .map(|u| u.id)
                    });
                    if found.is_none() {
                        err(
                            errors,
                            r.line,
                            "unit",
                            "unknown_unit",
                            "no unit of this name in this building and site",
                        );
                    }
                    found.map(Some)
                }
            },
        };
        if let (
            Some(g),
            Some(bus),
            Some(slave),
            true,
            Some(model),
            Some(ct),
            Some(max),
            Some(unit),
        ) = (gateway, bus, slave, wire_ok, model, ct, max, unit)
        {
            planned.push(store::meter::NewMeter {
                gateway_id: g,
                unit_id: unit,
                bus,
                slave,
                wire_id: wire,
                model: Some(model),
                register_map: None,
                ct_ratio: ct,
                max_power_kw: max,
            });
        }
    }
    if !write || !report.errors.is_empty() {
        return Ok(());
    }
    let mut gateways: Vec<GatewayId> = Vec::new();
    for new in planned {
        if !gateways.contains(&new.gateway_id) {
            gateways.push(new.gateway_id);
        }
        let m = store::meter::create(conn, ctx.scope(), new).await?;
        report.created.push(m.id.into());
    }
    for g in gateways {
        crate::service::devices::config_changed(conn, ctx.org_id, g).await?;
    }
    Ok(())
}
