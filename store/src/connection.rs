//! Connecting to PostgreSQL or SQLite, running migrations, and the readiness check.
//!
//! SQLite is the embedded default: the file is created when missing, runs in WAL mode with
//! foreign keys on and a busy timeout, and gets a small pool because SQLite serialises writers.

use std::path::Path;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};

use crate::StoreError;

/// The SQLite database file inside a data directory.
pub const SQLITE_FILE: &str = "wattpay.db";

/// The SQLite URL of `wattpay.db` in `data_dir`, created on first connect.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join(SQLITE_FILE).display())
}

/// Connects to `url` (`postgres://...` or `sqlite://...`).
pub async fn connect(url: &str) -> Result<DatabaseConnection, StoreError> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        let url = if url.contains('?') || url.contains(":memory:") {
            url.to_owned()
        } else {
            format!("{url}?mode=rwc")
        };
        opts = ConnectOptions::new(url);
        opts.sqlx_logging(false)
            .max_connections(4)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5))
                    .create_if_missing(true)
            });
    } else {
        opts.max_connections(16);
    }
    Ok(Database::connect(opts).await?)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Names of migrations not yet applied; the api and the worker refuse to start unless empty.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>, StoreError> {
    Ok(Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect())
}

/// A round trip to the database (readiness).
pub async fn ping(db: &DatabaseConnection) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    db.execute(Statement::from_string(backend, "SELECT 1"))
        .await?;
    Ok(())
}

/// Whether the connection is SQLite (some queries differ, e.g. row locking).
pub fn is_sqlite(conn: &impl ConnectionTrait) -> bool {
    conn.get_database_backend() == DbBackend::Sqlite
}
