//! Sites (properties): `/api/v1/sites`, with their charge-control defaults.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait as _;
use serde::{Deserialize, Serialize};
use store::site::{NewSite, SiteChanges, SiteFilter};
use store::{Site, SiteId};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse, SortQuery};
use crate::money::{parse_threshold, show};
use crate::startup::AppState;

/// A site as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct SiteView {
    pub id: Uuid,
    pub name: String,
    /// IANA time zone; tariff periods and trip windows are local time of the site.
    pub timezone: String,
    pub address: String,
    /// Default alarm threshold of the site's accounts, yuan.
    pub alarm_threshold: String,
    /// Default trip threshold of the site's accounts, yuan (negative: overdraft allowed).
    pub trip_threshold: String,
    pub created_at: DateTime<Utc>,
}

impl From<Site> for SiteView {
    fn from(s: Site) -> Self {
        SiteView {
            alarm_threshold: show(s.alarm_threshold()),
            trip_threshold: show(s.trip_threshold()),
            id: s.id.into(),
            name: s.name,
            timezone: s.timezone,
            address: s.address,
            created_at: s.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSite {
    pub name: String,
    /// IANA time zone, default `Asia/Shanghai`.
    pub timezone: Option<String>,
    pub address: Option<String>,
    /// Default ¥20.00.
    pub alarm_threshold: Option<String>,
    /// Default ¥0.00.
    pub trip_threshold: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSite {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub address: Option<String>,
    pub alarm_threshold: Option<String>,
    pub trip_threshold: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SiteQuery {
    /// Part of the site's name.
    pub name: Option<String>,
}

/// A name as a request gives it: trimmed, 1 to 200 characters.
pub fn valid_name(field: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("{field} must be 1 to 200 characters"),
        ));
    }
    Ok(name.to_owned())
}

fn valid_timezone(tz: &str) -> Result<String, ApiError> {
    tz.parse::<chrono_tz::Tz>()
        .map(|_| tz.to_owned())
        .map_err(|_| ApiError::bad_request("invalid_timezone", format!("unknown time zone `{tz}`")))
}

fn check_thresholds(alarm: domain::Money, trip: domain::Money) -> Result<(), ApiError> {
    if trip > alarm {
        return Err(ApiError::unprocessable(
            "invalid_thresholds",
            "the trip threshold must not be above the alarm threshold",
        ));
    }
    Ok(())
}

/// List the organization's sites.
#[utoipa::path(get, path = "/api/v1/sites", tag = "property", security(("bearer" = [])),
    params(ListQuery, SortQuery, SiteQuery),
    responses(
        (status = 200, body = ListResponse<SiteView>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/sites")]
pub async fn list(
    ctx: OrgContext,
    state: web::Data<AppState>,
    page: web::Query<ListQuery>,
    sort: web::Query<SortQuery>,
    q: web::Query<SiteQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let page = sort.apply(page.page()?, SORTS)?;
    let filter = SiteFilter {
        name: q.into_inner().name,
    };
    let paged = store::site::list_filtered(&state.db, ctx.scope(), &filter, page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::from_paged(paged, page, SiteView::from)))
}

/// Create a site.
#[utoipa::path(post, path = "/api/v1/sites", tag = "property", security(("bearer" = [])),
    request_body = CreateSite,
    responses(
        (status = 201, body = SiteView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (also for staff limited to some sites)", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/sites")]
pub async fn create(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<CreateSite>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    ctx.require_all_sites()?;
    let body = body.into_inner();
    let mut new = NewSite::named(valid_name("name", &body.name)?);
    new.timezone = body.timezone.as_deref().map(valid_timezone).transpose()?;
    new.address = body.address.unwrap_or_default();
    if let Some(a) = &body.alarm_threshold {
        new.alarm_threshold = parse_threshold("alarm_threshold", a)?;
    }
    if let Some(t) = &body.trip_threshold {
        new.trip_threshold = parse_threshold("trip_threshold", t)?;
    }
    check_thresholds(new.alarm_threshold, new.trip_threshold)?;
    // Thresholds given here are the site's own (above the organization's settings); without
    // them the site inherits.
    let own_alarm = body
        .alarm_threshold
        .is_some()
        .then_some(new.alarm_threshold);
    let own_trip = body.trip_threshold.is_some().then_some(new.trip_threshold);
    let site = state
        .db
        .transaction::<_, Site, ApiError>(|txn| {
            Box::pin(async move {
                let site = store::site::create(txn, ctx.org_id, new).await?;
                if own_alarm.is_some() || own_trip.is_some() {
                    store::control_settings::set_site_thresholds(
                        txn, ctx.org_id, site.id, own_alarm, own_trip,
                    )
                    .await?;
                }
                ctx.audit(
                    txn,
                    "site.create",
                    "site",
                    site.id,
                    serde_json::json!({"after": &site}),
                )
                .await?;
                Ok(site)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(SiteView::from(site)))
}

/// One site.
#[utoipa::path(get, path = "/api/v1/sites/{id}", tag = "property", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = SiteView),
        (status = 404, description = "`site_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/sites/{id}")]
pub async fn get(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let site = store::site::get(&state.db, ctx.scope(), SiteId::from(*id))
        .await
        .map_err(not_found)?;
    Ok(HttpResponse::Ok().json(SiteView::from(site)))
}

fn not_found(e: store::StoreError) -> ApiError {
    ApiError::from_store(e, "site_not_found", "site")
}

/// Change a site.
#[utoipa::path(patch, path = "/api/v1/sites/{id}", tag = "property", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateSite,
    responses(
        (status = 200, body = SiteView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`site_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
#[patch("/sites/{id}")]
pub async fn update(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateSite>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let body = body.into_inner();
    let changes = SiteChanges {
        name: body
            .name
            .as_deref()
            .map(|n| valid_name("name", n))
            .transpose()?,
        timezone: body.timezone.as_deref().map(valid_timezone).transpose()?,
        address: body.address,
        alarm_threshold: body
            .alarm_threshold
            .as_deref()
            .map(|a| parse_threshold("alarm_threshold", a))
            .transpose()?,
        trip_threshold: body
            .trip_threshold
            .as_deref()
            .map(|t| parse_threshold("trip_threshold", t))
            .transpose()?,
    };
    let id = SiteId::from(*id);
    let site = state
        .db
        .transaction::<_, Site, ApiError>(|txn| {
            Box::pin(async move {
                let before = store::site::get(txn, ctx.scope(), id)
                    .await
                    .map_err(not_found)?;
                let after = store::site::update(txn, ctx.scope(), id, changes).await?;
                check_thresholds(after.alarm_threshold(), after.trip_threshold())?;
                ctx.audit(
                    txn,
                    "site.update",
                    "site",
                    id,
                    serde_json::json!({"before": before, "after": &after}),
                )
                .await?;
                Ok(after)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(SiteView::from(site)))
}

/// Delete a site without buildings or gateways.
#[utoipa::path(delete, path = "/api/v1/sites/{id}", tag = "property", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 404, description = "`site_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`in_use`", body = Problem, content_type = "application/problem+json"),
    ))]
#[delete("/sites/{id}")]
pub async fn remove(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::ADMIN)?;
    let id = SiteId::from(*id);
    state
        .db
        .transaction::<_, (), ApiError>(|txn| {
            Box::pin(async move {
                let before = store::site::get(txn, ctx.scope(), id)
                    .await
                    .map_err(not_found)?;
                store::site::delete(txn, ctx.scope(), id).await?;
                ctx.audit(
                    txn,
                    "site.delete",
                    "site",
                    id,
                    serde_json::json!({"before": before}),
                )
                .await
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The fields `?sort=` accepts on the list (name in the API, column).
const SORTS: &[(&str, &str)] = &[
    ("name", "name"),
    ("created_at", "created_at"),
    ("timezone", "timezone"),
];
