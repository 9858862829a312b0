//! Merchant accounts: where an organization's tenants pay (WeChat Pay, Alipay, or the embedded
//! sandbox). The store keeps the public configuration as JSON and the secrets only as the
//! sealed text the `payments` crate produces; it never sees a key in clear.
//!
//! Making a merchant the default of its organization (or of a site) clears the previous
//! default in the same transaction, so there is at most one of each.

pub mod entity;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};

use crate::page::{fetch, Page, Paged};
use crate::payment::MerchantId;
use crate::{OrgId, SiteId, StoreError};

pub use entity::Model as Merchant;

/// A merchant to create; `config` and `secrets_sealed` come from the `payments` crate.
#[derive(Clone, Debug)]
pub struct NewMerchant {
    pub name: String,
    pub provider: String,
    pub config: serde_json::Value,
    pub secrets_sealed: String,
    pub default_for_org: bool,
    pub default_site_id: Option<SiteId>,
}

/// Creates a merchant (in one transaction with the default switch-over).
pub async fn create<C>(db: &C, org: OrgId, new: NewMerchant) -> Result<Merchant, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = db.begin().await?;
    if let Some(site) = new.default_site_id {
        crate::site::get(&txn, org, site).await?;
        entity::Entity::update_many()
            .col_expr(
                entity::Column::DefaultSiteId,
                Expr::value(Option::<SiteId>::None),
            )
            .filter(entity::Column::OrganizationId.eq(org))
            .filter(entity::Column::DefaultSiteId.eq(site))
            .exec(&txn)
            .await?;
    }
    if new.default_for_org {
        entity::Entity::update_many()
            .col_expr(entity::Column::DefaultForOrg, Expr::value(false))
            .filter(entity::Column::OrganizationId.eq(org))
            .exec(&txn)
            .await?;
    }
    let created = entity::ActiveModel {
        id: Set(MerchantId::new()),
        organization_id: Set(org),
        name: Set(new.name),
        provider: Set(new.provider),
        config: Set(new.config.to_string()),
        secrets_sealed: Set(new.secrets_sealed),
        default_for_org: Set(new.default_for_org),
        default_site_id: Set(new.default_site_id),
        enabled: Set(true),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(created)
}

pub async fn get(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: MerchantId,
) -> Result<Merchant, StoreError> {
    entity::Entity::find_by_id(id)
        .filter(entity::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Unscoped on purpose: a provider's notification names our merchant id in its URL and carries
/// no organization; the merchant row is what tells us the organization (and its keys verify
/// the notification before anything else is trusted).
pub async fn get_for_notification(
    conn: &impl ConnectionTrait,
    id: MerchantId,
) -> Result<Merchant, StoreError> {
    entity::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// The merchants of the organization, oldest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    org: OrgId,
    page: Page,
) -> Result<Paged<Merchant>, StoreError> {
    let select = entity::Entity::find()
        .filter(entity::Column::OrganizationId.eq(org))
        .order_by_asc(entity::Column::Id);
    fetch(conn, select, page).await
}

/// The merchant an order without `merchant_id` goes to: the site's default, else the
/// organization's, else the organization's only enabled merchant.
pub async fn default_for(
    conn: &impl ConnectionTrait,
    org: OrgId,
    site: Option<SiteId>,
) -> Result<Option<Merchant>, StoreError> {
    let enabled = || {
        entity::Entity::find()
            .filter(entity::Column::OrganizationId.eq(org))
            .filter(entity::Column::Enabled.eq(true))
    };
    if let Some(site) = site {
        if let Some(m) = enabled()
            .filter(entity::Column::DefaultSiteId.eq(site))
            .one(conn)
            .await?
        {
            return Ok(Some(m));
        }
    }
    if let Some(m) = enabled()
        .filter(entity::Column::DefaultForOrg.eq(true))
        .one(conn)
        .await?
    {
        return Ok(Some(m));
    }
    let mut all = enabled().order_by_asc(entity::Column::Id).all(conn).await?;
    Ok(if all.len() == 1 { all.pop() } else { None })
}

impl Merchant {
    /// The public configuration as JSON.
    pub fn config_json(&self) -> Result<serde_json::Value, StoreError> {
        serde_json::from_str(&self.config)
            .map_err(|e| StoreError::Invalid(format!("merchant {} config: {e}", self.id)))
    }
}
