//! `OrgContext`: the authenticated manager behind a request. Handlers that take it in their
//! signature reject the request before their body runs when the token is missing or invalid.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use domain::Role;
use store::ids::{OrgId, UserId};
use store::Scope;

use super::TokenKeys;
use crate::error::ApiError;

/// Who is calling, in which organization, with which role.
#[derive(Debug, Clone, Copy)]
pub struct OrgContext {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub role: Role,
    /// The caller sees only the sites their membership lists (see [`OrgContext::scope`]).
    pub site_limited: bool,
}

/// Who may call what. Each endpoint names one of these in its `ctx.require(...)`.
pub mod roles {
    use domain::Role;

    /// Every manager role: read the organization's property, devices and accounts.
    pub const READ: &[Role] = &[
        Role::PlatformAdmin,
        Role::OrgAdmin,
        Role::Operator,
        Role::Viewer,
        Role::Technician,
    ];
    /// Read money: ledgers, receipts, reports (technicians handle devices, not money).
    pub const READ_MONEY: &[Role] = &[
        Role::PlatformAdmin,
        Role::OrgAdmin,
        Role::Operator,
        Role::Viewer,
    ];
    /// Change property, tenants, accounts and tariffs; take counter payments.
    pub const MANAGE: &[Role] = &[Role::PlatformAdmin, Role::OrgAdmin, Role::Operator];
    /// Change gateways and meters, send meter commands, work orders.
    pub const DEVICES: &[Role] = &[
        Role::PlatformAdmin,
        Role::OrgAdmin,
        Role::Operator,
        Role::Technician,
    ];
    /// Users, invitations, the audit log, adjustments and other supervisor acts.
    pub const ADMIN: &[Role] = &[Role::PlatformAdmin, Role::OrgAdmin];
}

impl OrgContext {
    /// What the caller's queries may touch: their organization, narrowed to their sites when
    /// their membership is site-limited. Pass it wherever a store function takes a scope.
    pub fn scope(&self) -> Scope {
        if self.site_limited {
            Scope::sites_of(self.org_id, self.user_id)
        } else {
            Scope::org(self.org_id)
        }
    }

    /// Fails with `403 forbidden` for a site-limited caller: acts on the whole organization
    /// (creating a site, organization-wide settings) need an unlimited membership.
    pub fn require_all_sites(&self) -> Result<(), ApiError> {
        if self.site_limited {
            Err(ApiError::Forbidden)
        } else {
            Ok(())
        }
    }

    /// Records a manager action in the audit log, in the transaction of the change.
    pub async fn audit(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        action: &str,
        target_type: &str,
        target_id: impl std::fmt::Display,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        store::audit::record(
            conn,
            Some(self.org_id),
            Some(self.user_id),
            action,
            target_type,
            &target_id.to_string(),
            detail,
        )
        .await?;
        Ok(())
    }

    /// Fails with `403 forbidden` unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

pub(crate) fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing_token", "sign in first"))?;
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("invalid_token", "expected `Authorization: Bearer <token>`")
        })
}

fn context(req: &HttpRequest) -> Result<OrgContext, ApiError> {
    let token = bearer(req)?;
    let keys = req
        .app_data::<web::Data<TokenKeys>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("TokenKeys missing from app data")))?;
    let claims = keys.verify(token).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::ExpiredSignature => {
                ApiError::unauthorized("token_expired", "the access token has expired")
            }
            _ => ApiError::unauthorized("invalid_token", "the access token is not valid"),
        }
    })?;
    let role: Role = claims
        .role
        .parse()
        .map_err(|_| ApiError::unauthorized("invalid_token", "the access token is not valid"))?;
    if role == Role::Tenant {
        // Tenant tokens have their own audience; a manager token never names this role.
        return Err(ApiError::unauthorized(
            "invalid_token",
            "the access token is not valid",
        ));
    }
    Ok(OrgContext {
        user_id: UserId::from(claims.sub),
        org_id: OrgId::from(claims.org),
        role,
        site_limited: claims.site_limited,
    })
}

impl FromRequest for OrgContext {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(context(req))
    }
}
