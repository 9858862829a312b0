//! Migrations are idempotent and leave nothing pending.
#![allow(clippy::unwrap_used)]

use migrations::MigratorTrait;
use store::testing::backends;
use store::{migrate, pending_migrations, ping};

#[tokio::test]
async fn migrating_twice_is_a_no_op() -> anyhow::Result<()> {
    for db in backends().await {
        assert!(
            pending_migrations(&db).await?.is_empty(),
            "{}",
            db.backend()
        );
        migrate(&db).await?;
        migrate(&db).await?;
        assert!(pending_migrations(&db).await?.is_empty());
        ping(&db).await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_fresh_database_reports_pending_migrations() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = store::connect(&store::sqlite_url(dir.path())).await?;
    let pending = pending_migrations(&db).await?;
    // Every migration, whichever issues added them.
    assert_eq!(pending.len(), migrations::Migrator::migrations().len());
    assert!(pending[0].starts_with("m20261122_000001"));
    migrate(&db).await?;
    assert!(pending_migrations(&db).await?.is_empty());
    // Reopening the same file keeps the data and the schema.
    drop(db);
    let db = store::connect(&store::sqlite_url(dir.path())).await?;
    assert!(pending_migrations(&db).await?.is_empty());
    Ok(())
}
