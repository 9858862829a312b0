//! Test databases (feature `testing`): a fresh migrated database per test.
//!
//! SQLite in a temporary directory always; a fresh `test_<uuid>` PostgreSQL database as well
//! when `WATTPAY_TEST_DATABASE_URL` points at a server (created through that URL, dropped when
//! the [`TestDb`] is dropped, best-effort). With `CI=true` the PostgreSQL URL is mandatory:
//! CI must run against the real service, never silently skip it.

use std::fmt;

use domain::{Money, Role};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tempfile::TempDir;
use uuid::Uuid;

use crate::account::NewAccount;
use crate::site::NewSite;
use crate::user::NewUser;
use crate::{
    account, building, connect, migrate, organization, site, tenant, unit, user, AccountId,
    BuildingId, OrgId, SiteId, StoreError, TenantId, UnitId, UnitKind, UserId,
};

/// The variable naming a PostgreSQL server for tests.
pub const TEST_DATABASE_URL_VAR: &str = "WATTPAY_TEST_DATABASE_URL";

/// A fresh, migrated database that goes away with the value.
pub struct TestDb {
    db: DatabaseConnection,
    url: String,
    backend: &'static str,
    _dir: Option<TempDir>,
    postgres: Option<PgDatabase>,
}

struct PgDatabase {
    server_url: String,
    name: String,
}

impl fmt::Debug for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDb")
            .field("backend", &self.backend)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TestDb {
    /// A migrated SQLite database in a fresh temporary directory.
    pub async fn sqlite() -> Result<TestDb, StoreError> {
        let dir = tempfile::tempdir()
            .map_err(|e| StoreError::Invalid(format!("temporary directory: {e}")))?;
        let url = crate::sqlite_url(dir.path());
        let db = connect(&url).await?;
        migrate(&db).await?;
        Ok(TestDb {
            db,
            url,
            backend: "sqlite",
            _dir: Some(dir),
            postgres: None,
        })
    }

    /// A migrated `test_<uuid>` database created on the server at `server_url`.
    pub async fn postgres(server_url: &str) -> Result<TestDb, StoreError> {
        let name = format!("test_{}", Uuid::new_v4().simple());
        let admin = connect(server_url).await?;
        admin
            .execute(Statement::from_string(
                admin.get_database_backend(),
                format!("CREATE DATABASE \"{name}\""),
            ))
            .await?;
        admin.close().await?;
        let url = with_database(server_url, &name);
        let db = connect(&url).await?;
        let test_db = TestDb {
            db,
            url,
            backend: "postgres",
            _dir: None,
            postgres: Some(PgDatabase {
                server_url: server_url.to_owned(),
                name,
            }),
        };
        migrate(&test_db.db).await?;
        Ok(test_db)
    }

    /// The default test database: SQLite.
    pub async fn new() -> Result<TestDb, StoreError> {
        TestDb::sqlite().await
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// `"sqlite"` or `"postgres"`, for assertion messages.
    pub fn backend(&self) -> &'static str {
        self.backend
    }
}

impl std::ops::Deref for TestDb {
    type Target = DatabaseConnection;

    fn deref(&self) -> &DatabaseConnection {
        &self.db
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(pg) = self.postgres.take() else {
            return;
        };
        // Drop is synchronous and may run inside a runtime: clean up on a thread with its own
        // runtime. FORCE ends the test's pooled connections (PostgreSQL 13+).
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = connect(&pg.server_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", pg.name);
                    if let Err(e) = admin
                        .execute(Statement::from_string(admin.get_database_backend(), sql))
                        .await
                    {
                        tracing::warn!(database = %pg.name, error = %e, "could not drop test database");
                    }
                    let _ = admin.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// `server_url` with its database name replaced by `name`.
fn with_database(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Every backend tests must pass on: SQLite, and PostgreSQL when `WATTPAY_TEST_DATABASE_URL`
/// is set.
///
/// # Panics
/// When `CI=true` and `WATTPAY_TEST_DATABASE_URL` is unset, or a database cannot be created.
pub async fn backends() -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite()
        .await
        .unwrap_or_else(|e| panic!("SQLite test database: {e}"))];
    match std::env::var(TEST_DATABASE_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => dbs.push(
            TestDb::postgres(url.trim())
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL test database at {url}: {e}")),
        ),
        _ => assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {TEST_DATABASE_URL_VAR} is unset: CI must test against PostgreSQL"
        ),
    }
    dbs
}

/// The rows seeded for one organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeededOrg {
    pub org: OrgId,
    pub admin: UserId,
    pub site: SiteId,
    pub building: BuildingId,
    pub unit: UnitId,
    pub tenant: TenantId,
    pub account: AccountId,
}

/// Two organizations, each with a site, a building, a unit, a tenant, an org admin
/// (`admin@<name>.test`) and an account opened with ¥100.00 (A) or ¥50.00 (B).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TwoOrgs {
    pub a: SeededOrg,
    pub b: SeededOrg,
}

pub async fn seed_two_orgs(db: &DatabaseConnection) -> Result<TwoOrgs, StoreError> {
    Ok(TwoOrgs {
        a: seed_org(db, "org-a", Money::from_fen(10_000)).await?,
        b: seed_org(db, "org-b", Money::from_fen(5_000)).await?,
    })
}

/// One organization with a site, building, unit, tenant, admin and an account.
pub async fn seed_org(
    db: &DatabaseConnection,
    name: &str,
    initial_balance: Money,
) -> Result<SeededOrg, StoreError> {
    let org = organization::create_organization(db, name).await?.id;
    let admin = user::create_user(
        db,
        NewUser {
            email: format!("admin@{name}.test"),
            password_hash: "not-a-real-hash".into(),
            name: format!("{name} admin"),
            platform_admin: false,
        },
    )
    .await?
    .id;
    user::add_membership(db, org, admin, Role::OrgAdmin).await?;
    let site = site::create(db, org, NewSite::named(format!("{name} site")))
        .await?
        .id;
    let building = building::create(db, org, site, "Building 1").await?.id;
    let unit = unit::create(db, org, building, "101", UnitKind::Flat)
        .await?
        .id;
    let tenant = tenant::create(db, org, "Zhang San", Some("13800000000"))
        .await?
        .id;
    let account = account::open_account(
        db,
        org,
        NewAccount {
            unit_id: unit,
            tenant_id: Some(tenant),
            tariff_id: None,
            initial_balance,
            created_by: Some(admin),
        },
    )
    .await?
    .id;
    Ok(SeededOrg {
        org,
        admin,
        site,
        building,
        unit,
        tenant,
        account,
    })
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "test_x"),
            "postgres://postgres@127.0.0.1:5432/test_x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t"),
            "postgres://u:p@h/t?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "t"),
            "postgres://h:5432/t"
        );
    }
}
