//! Wattpay's storage: sea-orm entities, organization-scoped queries, ledger posting, the
//! transactional outbox, the audit log and the notifier interface.
//!
//! Rules every module keeps:
//! - repository functions are free functions taking `&impl ConnectionTrait`, so they run on the
//!   pool or inside a caller's transaction; functions that own a transaction say so;
//! - every organization-owned query takes `org: OrgId` first and filters on it, single-row
//!   lookups included: a row of another organization is [`StoreError::NotFound`];
//! - the few unscoped queries (door page, platform admin, invariant checks) live in
//!   [`unscoped`], each with a comment saying why;
//! - a balance changes only with a ledger entry, in the same transaction ([`ledger`]).

pub mod account;
pub mod audit;
pub mod building;
pub mod bulk;
pub mod command;
pub mod connection;
pub mod control_settings;
pub mod control_state;
pub mod counter;
pub mod daily;
pub mod entity;
pub mod error;
pub mod gateway;
pub mod gateway_config;
pub mod ids;
pub mod invitation;
pub mod job_lease;
pub mod ledger;
pub mod live;
pub mod manual_reading;
pub mod merchant;
pub mod meter;
pub mod meter_retirement;
pub mod money;
pub mod notifier;
pub mod notifier_log;
pub mod organization;
pub mod outbox;
pub mod page;
pub mod payment;
pub mod rating_state;
pub mod reading;
pub mod reconciliation;
pub mod refresh_token;
pub mod refund;
pub mod scope;
pub mod settlement;
pub mod site;
pub mod stats;
pub mod tariff;
pub mod tenant;
pub mod tenant_login;
pub mod tenant_preference;
pub mod unit;
pub mod unscoped;
pub mod usage_history;
pub mod user;
pub mod work_order;

#[cfg(feature = "testing")]
pub mod testing;

pub use connection::{connect, migrate, pending_migrations, ping, sqlite_url};
pub use error::StoreError;
pub use ids::*;
pub use page::{Page, Paged, Sort};
pub use scope::Scope;

pub use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait};

/// Models returned by the store, under the names callers use.
pub use entity::{
    account::Model as Account, audit_log::Model as AuditEntry, building::Model as Building,
    gateway::Model as Gateway, ledger_entry::Model as LedgerEntry, meter::Model as Meter,
    organization::Model as Organization, refresh_token::Model as RefreshToken, site::Model as Site,
    tariff::Model as Tariff, tariff_version::Model as TariffVersion, tenant::Model as Tenant,
    unit::Model as Unit, user::Model as User,
};
pub use entity::{AccountStatus, CommandState, LedgerKind, UnitKind, WorkOrderStatus};
