//! Organizations, for platform admins: `POST /api/v1/orgs` creates one with its first org admin
//! (the same service as `wattpay admin create-org`), `GET /api/v1/orgs` lists them.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::Role;
use serde::{Deserialize, Serialize};
use store::Organization;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse};
use crate::service::identity::{self, NewOrg};
use crate::startup::AppState;

const PLATFORM: &[Role] = &[Role::PlatformAdmin];

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    pub name: String,
    pub admin_email: String,
    /// At least 10 characters. Without it the admin gets an invitation link instead.
    pub admin_password: Option<String>,
}

/// An organization.
#[derive(Serialize, ToSchema)]
pub struct OrgView {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<Organization> for OrgView {
    fn from(o: Organization) -> Self {
        OrgView {
            id: o.id.into(),
            name: o.name,
            created_at: o.created_at,
        }
    }
}

/// The admin's invitation, shown once, when no password was given.
#[derive(Serialize, ToSchema)]
pub struct AdminInvitation {
    pub token: String,
    pub link: String,
    pub expires_at: DateTime<Utc>,
}

/// A created organization and its first admin.
#[derive(Serialize, ToSchema)]
pub struct CreatedOrgView {
    #[serde(flatten)]
    pub org: OrgView,
    pub admin_email: String,
    /// The admin user's id when a password was given.
    pub admin_user_id: Option<Uuid>,
    pub invitation: Option<AdminInvitation>,
}

/// Create an organization and its first org admin (platform admins).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "platform", security(("bearer" = [])),
    request_body = CreateOrg,
    responses(
        (status = 201, body = CreatedOrgView),
        (status = 400, description = "`invalid_name`, `invalid_email`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`weak_password`", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/orgs")]
pub async fn create(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<CreateOrg>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(PLATFORM)?;
    let body = body.into_inner();
    let created = identity::create_org(
        &state.db,
        &state.settings.public_base_url,
        NewOrg {
            name: body.name,
            admin_email: body.admin_email,
            admin_password: body.admin_password,
        },
        Some(ctx.user_id),
    )
    .await?;
    let admin_email = created
        .admin
        .as_ref()
        .map(|u| u.email.clone())
        .or_else(|| created.invitation.as_ref().map(|(i, _)| i.email.clone()))
        .unwrap_or_default();
    if let Some((inv, issued)) = &created.invitation {
        let text = format!(
            "您的组织 {org} 已在 Wattpay 开通。请在 7 天内打开以下链接设置管理员密码：\n{link}\n\n\
             Your organization {org} is ready on Wattpay. Open this link within 7 days to set the admin password:\n{link}\n",
            org = created.org.name,
            link = issued.link
        );
        if let Err(e) = state
            .notifier
            .send_email(&inv.email, "Wattpay 邀请 / invitation", &text)
            .await
        {
            tracing::warn!(error = %e, "could not email an organization admin's invitation");
        }
    }
    Ok(HttpResponse::Created().json(CreatedOrgView {
        admin_email,
        admin_user_id: created.admin.as_ref().map(|u| u.id.into()),
        invitation: created.invitation.map(|(_, issued)| AdminInvitation {
            token: issued.token,
            link: issued.link,
            expires_at: issued.expires_at,
        }),
        org: OrgView::from(created.org),
    }))
}

/// List every organization (platform admins).
#[utoipa::path(get, path = "/api/v1/orgs", tag = "platform", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, body = ListResponse<OrgView>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/orgs")]
pub async fn list(
    ctx: OrgContext,
    state: web::Data<AppState>,
    page: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(PLATFORM)?;
    let page = page.page()?;
    let paged = store::organization::list(&state.db, page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::from_paged(paged, page, OrgView::from)))
}
