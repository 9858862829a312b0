//! Command-line interface: subcommands, their flags, and how each one starts.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::{admin, demo, settings};

#[derive(Debug, Parser)]
#[command(
    name = "wattpay",
    version,
    about = "Wattpay: prepaid electricity for rented buildings"
)]
pub struct Cli {
    /// Optional TOML settings file; `WATTPAY_*` environment variables override it.
    #[arg(long, global = true, env = "WATTPAY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory for the embedded defaults (SQLite file, outboxes, generated secrets).
    #[arg(long, global = true, env = "WATTPAY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a whole demo on embedded defaults: a seeded organization and the API.
    Demo(demo::DemoArgs),
    /// Serve the HTTP API.
    Api,
    /// Run the background worker.
    Worker,
    /// Apply pending database migrations (or list them with --status).
    Migrate {
        /// Only list pending migrations; exit with status 3 when some are pending.
        #[arg(long)]
        status: bool,
    },
    /// Platform administration.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
}

/// Loads the API settings the way every subcommand does: file, environment, then `--data-dir`.
pub fn api_settings(
    cli_config: Option<&PathBuf>,
    data_dir: Option<&PathBuf>,
) -> anyhow::Result<api::Settings> {
    let mut s: api::Settings = settings::load(cli_config.map(PathBuf::as_path))?;
    if let Some(dir) = data_dir {
        s.data_dir.clone_from(dir);
    }
    Ok(s)
}

/// Opens the database of `settings`, creating the data directory an SQLite file needs.
pub async fn open_database(s: &api::Settings) -> anyhow::Result<sea_orm::DatabaseConnection> {
    if s.database_url.is_none() {
        std::fs::create_dir_all(&s.data_dir)
            .with_context(|| format!("creating data directory {}", s.data_dir.display()))?;
    }
    let url = s.effective_database_url();
    store::connect(&url)
        .await
        .with_context(|| format!("connecting to the database ({})", redact(&url)))
}

/// Refuses to run against a schema older than this binary.
pub async fn ensure_schema_current(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    let pending = store::pending_migrations(db).await?;
    anyhow::ensure!(
        pending.is_empty(),
        "the database schema is outdated ({} pending migration(s): {}); run `wattpay migrate` first",
        pending.len(),
        pending.join(", ")
    );
    Ok(())
}

/// The worker's job that polls payment orders no notification has settled (WeChat order query,
/// Alipay `alipay.trade.query`), crediting through the same path as a notification.
pub fn payment_polling(settings: &api::Settings) -> anyhow::Result<worker::run::ScheduledJob> {
    let clients = std::sync::Arc::new(api::pay::PayState::new(settings, 0)?.clients);
    Ok(worker::run::ScheduledJob {
        name: "payments.poll_due_orders".to_owned(),
        every: std::time::Duration::from_secs(30),
        job: std::sync::Arc::new(move |db, now| {
            let clients = std::sync::Arc::clone(&clients);
            Box::pin(async move {
                payments::poll_due_orders(&db, &clients, now).await?;
                Ok(())
            })
        }),
    })
}

/// Hides the password of a database URL for log and error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Waits for Ctrl-C or, on Unix, SIGTERM (what Kubernetes, systemd and `docker stop` send), so
/// a worker finishes its batch and leaves its MQTT session cleanly instead of being killed.
pub async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = api_settings(cli.config.as_ref(), cli.data_dir.as_ref())?;
    match cli.command {
        Command::Demo(args) => demo::run(settings, args).await,
        Command::Api => {
            let db = open_database(&settings).await?;
            ensure_schema_current(&db).await?;
            let app = api::Application::build(settings, db)?;
            tracing::info!(port = app.port(), "api listening");
            app.run_until_stopped().await?;
            Ok(())
        }
        Command::Worker => {
            let db = open_database(&settings).await?;
            ensure_schema_current(&db).await?;
            // Worker keys: the config file's `[worker]` table, then WATTPAY_* variables; data and
            // database follow the CLI's.
            let mut ws = worker::Settings::load_table(cli.config.as_deref(), "worker")?;
            ws.data_dir.clone_from(&settings.data_dir);
            ws.database_url = Some(settings.effective_database_url());
            let live =
                store::live::LiveCache::from_settings(ws.redis_url.as_deref(), &ws.redis_prefix)
                    .await?;
            let jobs = vec![payment_polling(&settings)?];
            let running = worker::run::start_with_jobs(ws, db, live, jobs)?;
            shutdown_signal().await?;
            tracing::info!("worker stopping");
            running.stop().await;
            Ok(())
        }
        Command::Migrate { status } => {
            let db = open_database(&settings).await?;
            let pending = store::pending_migrations(&db).await?;
            if status {
                for name in &pending {
                    println!("pending {name}");
                }
                if pending.is_empty() {
                    println!("schema is current");
                    return Ok(());
                }
                std::process::exit(3);
            }
            store::migrate(&db).await?;
            println!("applied {} migration(s); schema is current", pending.len());
            Ok(())
        }
        Command::Admin { command } => {
            let db = open_database(&settings).await?;
            ensure_schema_current(&db).await?;
            admin::run(&db, command).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://wattpay:s3cret@db:5432/wattpay"),
            "postgres://wattpay:***@db:5432/wattpay"
        );
        assert_eq!(
            redact("sqlite://./x.db?mode=rwc"),
            "sqlite://./x.db?mode=rwc"
        );
    }
}
