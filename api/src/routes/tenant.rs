//! Tenants (the people paying for a unit's power): `/api/v1/tenants`.
//!
//! Phone numbers are personal information (PIPL): viewers and technicians see them masked
//! (`138****0000`), names stay readable.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::Role;
use sea_orm::TransactionTrait as _;
use serde::{Deserialize, Serialize};
use store::tenant::TenantFilter;
use store::{Tenant, TenantId};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::site::valid_name;
use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse, SortQuery};
use crate::startup::AppState;

#[derive(Serialize, ToSchema)]
pub struct TenantView {
    pub id: Uuid,
    pub name: String,
    /// Masked (`138****0000`) for viewers and technicians.
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `13800000000` → `138****0000`; short numbers keep only their last two digits.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() >= 11 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}****{tail}")
    } else {
        let keep = chars.len().min(2);
        let tail: String = chars[chars.len() - keep..].iter().collect();
        format!("{}{tail}", "*".repeat(chars.len() - keep))
    }
}

/// A name as the public door page shows it: the first letter of its first word, then stars
/// ("张伟 Zhang Wei" → "张*", "Zhang San" → "Z***"); the same rule as the web door page.
pub fn mask_name(name: &str) -> String {
    let first = name.split_whitespace().next().unwrap_or_default();
    let mut chars = first.chars();
    let Some(initial) = chars.next() else {
        return String::new();
    };
    let stars = chars.count().clamp(1, 3);
    format!("{initial}{}", "*".repeat(stars))
}

/// Whether a role sees full phone numbers.
pub fn sees_phones(role: Role) -> bool {
    matches!(role, Role::PlatformAdmin | Role::OrgAdmin | Role::Operator)
}

impl TenantView {
    pub fn for_role(t: Tenant, role: Role) -> Self {
        let phone = if sees_phones(role) {
            t.phone
        } else {
            t.phone.as_deref().map(mask_phone)
        };
        TenantView {
            id: t.id.into(),
            name: t.name,
            phone,
            created_at: t.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    pub name: String,
    /// Mobile number, digits only (the tenant signs in with it).
    pub phone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    pub name: Option<String>,
    /// `null` removes the phone number.
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    /// Part of the name.
    pub name: Option<String>,
    /// The exact phone number.
    pub phone: Option<String>,
}

/// A phone number as the API accepts it: 5 to 20 digits, an optional leading `+`.
pub fn valid_phone(phone: &str) -> Result<String, ApiError> {
    let phone = phone.trim();
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    if (5..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(phone.to_owned())
    } else {
        Err(ApiError::bad_request(
            "invalid_phone",
            "a phone number is 5 to 20 digits",
        ))
    }
}

fn not_found(e: store::StoreError) -> ApiError {
    ApiError::from_store(e, "tenant_not_found", "tenant")
}

/// List tenants, filtered by name or phone.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "property", security(("bearer" = [])),
    params(ListQuery, SortQuery, TenantQuery),
    responses((status = 200, body = ListResponse<TenantView>),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/tenants")]
pub async fn list(
    ctx: OrgContext,
    state: web::Data<AppState>,
    page: web::Query<ListQuery>,
    sort: web::Query<SortQuery>,
    q: web::Query<TenantQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let page = sort.apply(page.page()?, SORTS)?;
    let q = q.into_inner();
    // Searching by phone is a way to learn a phone: only for roles that see phones.
    if q.phone.is_some() && !sees_phones(ctx.role) {
        return Err(ApiError::Forbidden);
    }
    let filter = TenantFilter {
        name: q.name,
        phone: q.phone,
    };
    let paged = store::tenant::list_filtered(&state.db, ctx.org_id, &filter, page).await?;
    Ok(
        HttpResponse::Ok().json(ListResponse::from_paged(paged, page, |t| {
            TenantView::for_role(t, ctx.role)
        })),
    )
}

/// Create a tenant.
#[utoipa::path(post, path = "/api/v1/tenants", tag = "property", security(("bearer" = [])),
    request_body = CreateTenant,
    responses((status = 201, body = TenantView),
        (status = 400, body = Problem, content_type = "application/problem+json")))]
#[post("/tenants")]
pub async fn create(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<CreateTenant>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let name = valid_name("name", &body.name)?;
    let phone = body.phone.as_deref().map(valid_phone).transpose()?;
    let tenant = state
        .db
        .transaction::<_, Tenant, ApiError>(|txn| {
            Box::pin(async move {
                let t = store::tenant::create(txn, ctx.org_id, &name, phone.as_deref()).await?;
                ctx.audit(
                    txn,
                    "tenant.create",
                    "tenant",
                    t.id,
                    serde_json::json!({"after": &t}),
                )
                .await?;
                Ok(t)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(TenantView::for_role(tenant, ctx.role)))
}

/// One tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{id}", tag = "property", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TenantView),
        (status = 404, description = "`tenant_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/tenants/{id}")]
pub async fn get(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let t = store::tenant::get(&state.db, ctx.org_id, TenantId::from(*id))
        .await
        .map_err(not_found)?;
    Ok(HttpResponse::Ok().json(TenantView::for_role(t, ctx.role)))
}

/// Change a tenant's name or phone.
#[utoipa::path(patch, path = "/api/v1/tenants/{id}", tag = "property", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateTenant,
    responses((status = 200, body = TenantView),
        (status = 404, description = "`tenant_not_found`", body = Problem, content_type = "application/problem+json")))]
#[patch("/tenants/{id}")]
pub async fn update(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateTenant>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let body = body.into_inner();
    let name = body
        .name
        .as_deref()
        .map(|n| valid_name("name", n))
        .transpose()?;
    let phone = match body.phone {
        Some(Some(p)) => Some(Some(valid_phone(&p)?)),
        other => other,
    };
    let id = TenantId::from(*id);
    let t = state
        .db
        .transaction::<_, Tenant, ApiError>(|txn| {
            Box::pin(async move {
                let before = store::tenant::get(txn, ctx.org_id, id)
                    .await
                    .map_err(not_found)?;
                let after = store::tenant::update(txn, ctx.org_id, id, name, phone).await?;
                ctx.audit(
                    txn,
                    "tenant.update",
                    "tenant",
                    id,
                    serde_json::json!({"before": before, "after": &after}),
                )
                .await?;
                Ok(after)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(TenantView::for_role(t, ctx.role)))
}

/// Delete a tenant no account refers to.
#[utoipa::path(delete, path = "/api/v1/tenants/{id}", tag = "property", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204),
        (status = 404, description = "`tenant_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`in_use`", body = Problem, content_type = "application/problem+json")))]
#[delete("/tenants/{id}")]
pub async fn remove(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let id = TenantId::from(*id);
    state
        .db
        .transaction::<_, (), ApiError>(|txn| {
            Box::pin(async move {
                let before = store::tenant::get(txn, ctx.org_id, id)
                    .await
                    .map_err(not_found)?;
                store::tenant::delete(txn, ctx.org_id, id).await?;
                ctx.audit(
                    txn,
                    "tenant.delete",
                    "tenant",
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
const SORTS: &[(&str, &str)] = &[("name", "name"), ("created_at", "created_at")];

#[cfg(test)]
mod tests {
    use super::mask_phone;

    #[test]
    fn masks_the_middle_of_a_mobile_number() {
        assert_eq!(mask_phone("13800000000"), "138****0000");
        assert_eq!(mask_phone("12345"), "***45");
    }
}
