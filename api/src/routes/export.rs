//! Spreadsheet exports for managers: CSV in UTF-8 with a byte-order mark, so Excel opens
//! Chinese names correctly, and `Content-Disposition: attachment`.
//! - `GET /api/v1/exports/accounts.csv` — every account of the organization;
//! - `GET /api/v1/exports/accounts/{id}/ledger.csv` — one account's ledger, oldest first;
//! - `GET /api/v1/exports/day-end.csv?date=` — the day's counter receipts (日结 detail).
//!
//! Rules: the same roles and organization scoping as the JSON endpoints; money as the API
//! shows it (yuan, 2 decimals); free text that a spreadsheet would run as a formula (`=`, `+`,
//! `-`, `@` first) is prefixed with `'` (CSV injection), numbers never are.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use store::account::AccountFilter;
use store::{AccountId, Page};
use uuid::Uuid;

use super::account::AccountView;
use super::counter::DayQuery;
use super::ledger::LedgerEntryView;
use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::money::show;
use crate::service::counter as service;
use crate::startup::AppState;

/// A CSV document being written: header first, then rows.
struct Csv(String);

/// One cell: free text (guarded against formulas) or a value written as is.
enum Cell<'a> {
    Text(&'a str),
    Value(String),
}

impl Csv {
    fn new(header: &[&str]) -> Self {
        let mut csv = Csv("\u{feff}".to_owned());
        csv.row(header.iter().map(|h| Cell::Value((*h).to_owned())));
        csv
    }

    fn row<'a>(&mut self, cells: impl IntoIterator<Item = Cell<'a>>) {
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            let raw = match &cell {
                Cell::Text(t) if t.starts_with(['=', '+', '-', '@', '\t', '\r']) => {
                    format!("'{t}")
                }
                Cell::Text(t) => (*t).to_owned(),
                Cell::Value(v) => v.clone(),
            };
            if raw.contains([',', '"', '\n', '\r']) {
                self.0.push('"');
                self.0.push_str(&raw.replace('"', "\"\""));
                self.0.push('"');
            } else {
                self.0.push_str(&raw);
            }
        }
        // RFC 4180 line ends.
        self.0.push_str("\r\n");
    }

    fn into_response(self, filename: &str) -> HttpResponse {
        HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ))
            .body(self.0)
    }
}

// By value so call sites stay short (`v(a.id)`); the values are small.
#[allow(clippy::needless_pass_by_value)]
fn v(value: impl ToString) -> Cell<'static> {
    Cell::Value(value.to_string())
}

fn opt<T: ToString>(value: Option<T>) -> Cell<'static> {
    Cell::Value(value.map(|x| x.to_string()).unwrap_or_default())
}

fn time(t: DateTime<Utc>) -> Cell<'static> {
    v(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Every account of the organization as CSV.
#[utoipa::path(get, path = "/api/v1/exports/accounts.csv", tag = "accounts",
    security(("bearer" = [])),
    responses((status = 200, description = "UTF-8 CSV with a BOM", body = String, content_type = "text/csv"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/exports/accounts.csv")]
pub async fn accounts(
    ctx: OrgContext,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let mut csv = Csv::new(&[
        "account_no",
        "id",
        "unit_id",
        "tenant_id",
        "balance",
        "state",
        "status",
        "protected",
        "relay",
        "opened_at",
        "closed_at",
    ]);
    let filter = AccountFilter::default();
    for page in 1.. {
        let paged = store::account::list_filtered(
            &state.db,
            ctx.scope(),
            &filter,
            Page::new(page, store::page::MAX_PER_PAGE),
        )
        .await?;
        let done = paged.items.len() < usize::try_from(store::page::MAX_PER_PAGE).unwrap_or(200);
        for a in paged.items {
            let a = AccountView::load(&state.db, ctx.org_id, a).await?;
            csv.row([
                Cell::Text(&a.account_no),
                v(a.id),
                v(a.unit_id),
                opt(a.tenant_id),
                v(&a.balance),
                v(&a.state),
                v(&a.status),
                v(a.protected),
                v(&a.relay),
                time(a.opened_at),
                Cell::Value(a.closed_at.map(|t| t.to_rfc3339()).unwrap_or_default()),
            ]);
        }
        if done {
            break;
        }
    }
    Ok(csv.into_response("accounts.csv"))
}

/// One account's ledger as CSV, oldest entry first.
#[utoipa::path(get, path = "/api/v1/exports/accounts/{id}/ledger.csv", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "UTF-8 CSV with a BOM", body = String, content_type = "text/csv"),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/exports/accounts/{id}/ledger.csv")]
pub async fn ledger(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ_MONEY)?;
    let id = AccountId::from(*id);
    let account = store::account::get(&state.db, ctx.scope(), id)
        .await
        .map_err(super::account::not_found)?;
    let mut entries = Vec::new();
    for page in 1.. {
        let paged = store::ledger::entries_of(
            &state.db,
            ctx.scope(),
            id,
            Page::new(page, store::page::MAX_PER_PAGE),
        )
        .await?;
        let done = paged.items.len() < usize::try_from(store::page::MAX_PER_PAGE).unwrap_or(200);
        entries.extend(paged.items.into_iter().map(LedgerEntryView::from));
        if done {
            break;
        }
    }
    entries.reverse();
    let mut csv = Csv::new(&[
        "entry_id",
        "created_at",
        "kind",
        "amount",
        "balance_after",
        "corrects",
        "memo",
    ]);
    for e in &entries {
        csv.row([
            v(e.id),
            time(e.created_at),
            v(&e.kind),
            v(&e.amount),
            v(&e.balance_after),
            opt(e.corrects),
            Cell::Text(e.memo.as_deref().unwrap_or_default()),
        ]);
    }
    Ok(csv.into_response(&format!("ledger-{}.csv", account.account_no)))
}

/// The day's counter receipts (the day-end report's detail) as CSV.
#[utoipa::path(get, path = "/api/v1/exports/day-end.csv", tag = "counter",
    security(("bearer" = [])), params(DayQuery),
    responses((status = 200, description = "UTF-8 CSV with a BOM", body = String, content_type = "text/csv"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/exports/day-end.csv")]
pub async fn day_end(
    ctx: OrgContext,
    state: web::Data<AppState>,
    q: web::Query<DayQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ_MONEY)?;
    let date = q.date.unwrap_or_else(|| {
        Utc::now()
            .with_timezone(&service::business_tz())
            .date_naive()
    });
    day_end_csv(&state.db, ctx.scope(), date).await
}

/// The day-end CSV of a business day; the manager's day-end page serves it too.
pub async fn day_end_csv(
    db: &sea_orm::DatabaseConnection,
    scope: impl Into<store::Scope>,
    date: chrono::NaiveDate,
) -> Result<HttpResponse, ApiError> {
    let tz = service::business_tz();
    let (from, to) = service::business_day(date);
    let receipts = store::counter::between(db, scope, from, to).await?;
    let mut csv = Csv::new(&[
        "receipt_no",
        "time",
        "kind",
        "method",
        "cashier_id",
        "account_id",
        "amount",
        "balance_after",
        "note",
    ]);
    let mut net = 0i64;
    for r in &receipts {
        net += r.amount_fen;
        csv.row([
            v(r.receipt_no),
            v(r.created_at
                .with_timezone(&tz)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)),
            v(&r.kind),
            opt(r.method.as_deref()),
            opt(r.cashier_id),
            v(r.account_id),
            v(show(domain::Money::from_fen(r.amount_fen))),
            v(show(domain::Money::from_fen(r.balance_after_fen))),
            Cell::Text(r.note.as_deref().unwrap_or_default()),
        ]);
    }
    csv.row([
        v("total"),
        v(date),
        v(""),
        v(""),
        v(""),
        v(""),
        v(show(domain::Money::from_fen(net))),
        v(""),
        v(""),
    ]);
    Ok(csv.into_response(&format!("day-end-{date}.csv")))
}
