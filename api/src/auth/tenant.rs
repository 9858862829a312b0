//! `TenantContext`: the tenant behind a request, proved by a one-time code sent to their phone.
//!
//! Rules kept here: a tenant reads only accounts whose tenant record the token names, in that
//! record's organization, and only while the record still carries the token's phone (a phone
//! number moved to someone else stops working at once); anything else answers 404, exactly as
//! an unknown id does.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use sea_orm::ConnectionTrait;
use store::account::AccountFilter;
use store::{Account, AccountId, OrgId, TenantId};

use super::token::TenantGrant;
use super::TokenKeys;
use crate::error::ApiError;

/// A signed-in tenant: their phone and the tenant records it may read.
#[derive(Debug, Clone)]
pub struct TenantContext {
    pub phone: String,
    pub grants: Vec<(TenantId, OrgId)>,
}

impl TenantContext {
    fn from_grants(phone: String, grants: &[TenantGrant]) -> Self {
        TenantContext {
            phone,
            grants: grants
                .iter()
                .map(|g| (TenantId::from(g.tenant), OrgId::from(g.org)))
                .collect(),
        }
    }

    /// Whether `tenant` of `org` is one of this caller's records and still has their phone.
    async fn owns(
        &self,
        conn: &impl ConnectionTrait,
        org: OrgId,
        tenant: TenantId,
    ) -> Result<bool, ApiError> {
        if !self.grants.contains(&(tenant, org)) {
            return Ok(false);
        }
        match store::tenant::get(conn, org, tenant).await {
            Ok(t) => Ok(t.phone.as_deref() == Some(self.phone.as_str())),
            Err(store::StoreError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// One of the caller's accounts, or `404 account_not_found`.
    pub async fn account(
        &self,
        conn: &impl ConnectionTrait,
        id: AccountId,
    ) -> Result<Account, ApiError> {
        let mut orgs: Vec<OrgId> = self.grants.iter().map(|(_, o)| *o).collect();
        orgs.sort();
        orgs.dedup();
        for org in orgs {
            match store::account::get(conn, org, id).await {
                Ok(a) => {
                    if let Some(tenant) = a.tenant_id {
                        if self.owns(conn, org, tenant).await? {
                            return Ok(a);
                        }
                    }
                    break;
                }
                Err(store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::not_found("account_not_found", "account"))
    }

    /// Every account of the caller's tenant records, newest first.
    pub async fn accounts(&self, conn: &impl ConnectionTrait) -> Result<Vec<Account>, ApiError> {
        let mut out = Vec::new();
        for &(tenant, org) in &self.grants {
            if !self.owns(conn, org, tenant).await? {
                continue;
            }
            let filter = AccountFilter {
                tenant_id: Some(tenant),
                ..Default::default()
            };
            let page = store::Page::new(1, store::page::MAX_PER_PAGE);
            out.extend(
                store::account::list_filtered(conn, org, &filter, page)
                    .await?
                    .items,
            );
        }
        out.sort_by_key(|a| std::cmp::Reverse(a.opened_at));
        Ok(out)
    }
}

fn context(req: &HttpRequest) -> Result<TenantContext, ApiError> {
    let token = super::context::bearer(req)?;
    let keys = req
        .app_data::<web::Data<TokenKeys>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("TokenKeys missing from app data")))?;
    let claims = keys.verify_tenant(token).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::ExpiredSignature => {
                ApiError::unauthorized("token_expired", "the access token has expired")
            }
            _ => ApiError::unauthorized("invalid_token", "the access token is not valid"),
        }
    })?;
    if claims.role != domain::Role::Tenant.as_str() {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "the access token is not valid",
        ));
    }
    Ok(TenantContext::from_grants(claims.sub, &claims.tenants))
}

impl FromRequest for TenantContext {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(context(req))
    }
}
