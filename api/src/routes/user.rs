//! Users of an organization, managed by its admins: `GET /api/v1/users`, invitations,
//! `PATCH /api/v1/users/{id}` (role, site limit, disabled) and password resets.
//!
//! Rules kept here: only org admins with an unlimited membership manage users (a site-limited
//! admin could otherwise widen their own reach); the organization never loses its last enabled
//! org admin (`409 last_admin`); disabling a member revokes their refresh tokens; a password reset
//! is refused for a person who also belongs to another organization (`409
//! user_in_other_organizations`), since the password is theirs everywhere; tokens are shown once
//! and never audited.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::Role;
use sea_orm::TransactionTrait as _;
use serde::{Deserialize, Serialize};
use store::user::{Member, MemberChanges};
use store::{SiteId, UserId};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse, SortQuery};
use crate::service::identity::{self, Invite};
use crate::startup::AppState;

/// A member of the organization.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub disabled: bool,
    /// The sites the member is limited to; `null` for every site.
    pub site_ids: Option<Vec<Uuid>>,
    /// When they joined the organization.
    pub created_at: DateTime<Utc>,
}

impl From<Member> for UserView {
    fn from(m: Member) -> Self {
        UserView {
            id: m.user.id.into(),
            email: m.user.email,
            name: m.user.name,
            role: m.membership.role.as_str().to_owned(),
            disabled: m.membership.disabled,
            site_ids: m.site_ids.map(|s| s.into_iter().map(Into::into).collect()),
            created_at: m.joined_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only members with this role.
    pub role: Option<String>,
}

/// Sort fields of `GET /api/v1/users`.
pub const USER_SORTS: &[(&str, &str)] = &[("created_at", "created_at"), ("role", "role")];

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    /// `org_admin`, `operator`, `viewer` or `technician`.
    pub role: String,
    /// Limit the new member to these sites; omitted or `null` for every site.
    pub site_ids: Option<Vec<Uuid>>,
}

/// An invitation, with its token shown this once.
#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    pub site_ids: Option<Vec<Uuid>>,
    pub expires_at: DateTime<Utc>,
    /// The single-use token for `POST /api/v1/auth/accept-invitation` (shown once).
    pub token: String,
    /// The link emailed to the invitee, for the admin to copy.
    pub link: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub role: Option<String>,
    /// A list limits the member to those sites; `null` lifts the limit; omitted keeps it.
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub site_ids: Option<Option<Vec<Uuid>>>,
    pub disabled: Option<bool>,
}

/// A password reset link, shown this once.
#[derive(Serialize, ToSchema)]
pub struct ResetView {
    /// The single-use token for `POST /api/v1/auth/reset-password`.
    pub token: String,
    pub link: String,
    pub expires_at: DateTime<Utc>,
}

fn require_user_admin(ctx: &OrgContext) -> Result<(), ApiError> {
    ctx.require(roles::ADMIN)?;
    ctx.require_all_sites()
}

fn not_found(e: store::StoreError) -> ApiError {
    ApiError::from_store(e, "user_not_found", "user")
}

fn site_ids(ids: Option<Vec<Uuid>>) -> Option<Vec<SiteId>> {
    ids.map(|v| v.into_iter().map(SiteId::from).collect())
}

/// List the organization's users.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    params(ListQuery, SortQuery, UserQuery),
    responses(
        (status = 200, body = ListResponse<UserView>),
        (status = 400, description = "`invalid_page`, `invalid_sort`, `invalid_role`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/users")]
pub async fn list(
    ctx: OrgContext,
    state: web::Data<AppState>,
    page: web::Query<ListQuery>,
    sort: web::Query<SortQuery>,
    q: web::Query<UserQuery>,
) -> Result<HttpResponse, ApiError> {
    require_user_admin(&ctx)?;
    let page = sort.apply(page.page()?, USER_SORTS)?;
    let role = q
        .role
        .as_deref()
        .map(|r| {
            r.parse::<Role>()
                .map_err(|_| ApiError::bad_request("invalid_role", format!("unknown role `{r}`")))
        })
        .transpose()?;
    let paged = store::user::list_members(&state.db, ctx.org_id, role, page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::from_paged(paged, page, UserView::from)))
}

/// Invite someone to the organization: emails them a single-use link (valid 7 days) and answers
/// it once for the admin to copy.
#[utoipa::path(post, path = "/api/v1/users/invitations", tag = "users", security(("bearer" = [])),
    request_body = InviteRequest,
    responses(
        (status = 201, body = InvitationView),
        (status = 400, description = "`invalid_email`, `invalid_role`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`site_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_member`", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/users/invitations")]
pub async fn invite(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<InviteRequest>,
) -> Result<HttpResponse, ApiError> {
    require_user_admin(&ctx)?;
    let body = body.into_inner();
    let email = identity::valid_email(&body.email)?;
    let role = identity::staff_role(&body.role)?;
    if let Some(user) = store::user::find_user_by_email(&state.db, &email).await? {
        if store::user::get_member(&state.db, ctx.org_id, user.id)
            .await
            .is_ok()
        {
            return Err(ApiError::conflict(
                "already_member",
                "this person is already a member of the organization",
            ));
        }
    }
    let invite = Invite {
        email: email.clone(),
        role,
        site_ids: site_ids(body.site_ids),
    };
    let base = state.settings.public_base_url.clone();
    let (inv, issued) = state
        .db
        .transaction::<_, _, ApiError>(|txn| {
            Box::pin(async move {
                let (inv, issued) =
                    identity::invite(txn, &base, ctx.org_id, ctx.user_id, invite, Utc::now())
                        .await?;
                ctx.audit(
                    txn,
                    "user.invite",
                    "invitation",
                    inv.id,
                    serde_json::json!({"after": {"email": inv.email, "role": inv.role,
                        "site_ids": inv.sites()?, "expires_at": inv.expires_at}}),
                )
                .await?;
                Ok((inv, issued))
            })
        })
        .await?;
    let org = store::organization::get_organization(&state.db, ctx.org_id).await?;
    let text = format!(
        "您被邀请加入 {org} 的 Wattpay 管理后台。请在 7 天内打开以下链接设置密码：\n{link}\n\n\
         You are invited to {org} on Wattpay. Open this link within 7 days to set your password:\n{link}\n",
        org = org.name,
        link = issued.link
    );
    if let Err(e) = state
        .notifier
        .send_email(&inv.email, "Wattpay 邀请 / invitation", &text)
        .await
    {
        // The admin has the link in the answer and can pass it on.
        tracing::warn!(error = %e, "could not email an invitation");
    }
    Ok(HttpResponse::Created().json(InvitationView {
        id: inv.id.into(),
        site_ids: inv
            .sites()?
            .map(|s| s.into_iter().map(Into::into).collect()),
        email: inv.email,
        role: inv.role,
        expires_at: issued.expires_at,
        token: issued.token,
        link: issued.link,
    }))
}

/// Change a member's role, site limit or disabled flag.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateUser,
    responses(
        (status = 200, body = UserView),
        (status = 400, description = "`invalid_role`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`, `site_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_admin`", body = Problem, content_type = "application/problem+json"),
    ))]
#[patch("/users/{id}")]
pub async fn update(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateUser>,
) -> Result<HttpResponse, ApiError> {
    require_user_admin(&ctx)?;
    let body = body.into_inner();
    let changes = MemberChanges {
        role: body.role.as_deref().map(identity::staff_role).transpose()?,
        site_ids: body.site_ids.map(site_ids),
        disabled: body.disabled,
    };
    let user = UserId::from(*id);
    let after = state
        .db
        .transaction::<_, Member, ApiError>(|txn| {
            Box::pin(async move {
                let before = store::user::get_member(txn, ctx.org_id, user)
                    .await
                    .map_err(not_found)?;
                let was_admin =
                    before.membership.role == Role::OrgAdmin && !before.membership.disabled;
                let stays_admin = changes.role.unwrap_or(before.membership.role) == Role::OrgAdmin
                    && !changes.disabled.unwrap_or(before.membership.disabled);
                if was_admin
                    && !stays_admin
                    && store::user::count_active_admins(txn, ctx.org_id).await? <= 1
                {
                    return Err(ApiError::conflict(
                        "last_admin",
                        "the organization would have no enabled org admin left",
                    ));
                }
                let disabling = changes.disabled == Some(true);
                let after = store::user::update_member(txn, ctx.org_id, user, changes)
                    .await
                    .map_err(|e| ApiError::from_store(e, "site_not_found", "site"))?;
                if disabling {
                    store::refresh_token::revoke_for_member(txn, user, Some(ctx.org_id)).await?;
                }
                ctx.audit(
                    txn,
                    "user.update",
                    "user",
                    user,
                    serde_json::json!({"before": audit_view(&before), "after": audit_view(&after)}),
                )
                .await?;
                Ok(after)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(after)))
}

fn audit_view(m: &Member) -> serde_json::Value {
    serde_json::json!({"role": m.membership.role.as_str(), "disabled": m.membership.disabled,
        "site_ids": m.site_ids})
}

/// Issue a one-time password reset link (valid 24 hours) for a member, shown once.
#[utoipa::path(post, path = "/api/v1/users/{id}/password-reset", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 201, body = ResetView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`user_in_other_organizations`", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/users/{id}/password-reset")]
pub async fn password_reset(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_user_admin(&ctx)?;
    let user = UserId::from(*id);
    store::user::get_member(&state.db, ctx.org_id, user)
        .await
        .map_err(not_found)?;
    let memberships = store::user::memberships_of(&state.db, user).await?;
    if memberships.iter().any(|m| m.organization_id != ctx.org_id) {
        return Err(ApiError::conflict(
            "user_in_other_organizations",
            "this person also belongs to another organization; they reset their own password",
        ));
    }
    let base = state.settings.public_base_url.clone();
    let issued = state
        .db
        .transaction::<_, _, ApiError>(|txn| {
            Box::pin(async move {
                let issued =
                    identity::issue_reset(txn, &base, ctx.org_id, user, ctx.user_id, Utc::now())
                        .await?;
                ctx.audit(
                    txn,
                    "user.password_reset",
                    "user",
                    user,
                    serde_json::json!({"expires_at": issued.expires_at}),
                )
                .await?;
                Ok(issued)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(ResetView {
        token: issued.token,
        link: issued.link,
        expires_at: issued.expires_at,
    }))
}
