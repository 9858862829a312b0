//! `wattpay demo`: everything on embedded defaults in one process — a fresh (or continued)
//! SQLite database in the data directory, a seeded demo organization, and the API.

mod seed;

use clap::Args;

use crate::cli;

/// Sign-in of the demo organization's admin, printed at start.
pub const ADMIN_EMAIL: &str = "admin@demo.local";
pub const ADMIN_PASSWORD: &str = "wattpay-demo";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// HTTP port (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

pub async fn run(mut settings: api::Settings, args: DemoArgs) -> anyhow::Result<()> {
    settings.http_addr = format!("127.0.0.1:{}", args.port);
    let db = cli::open_database(&settings).await?;
    store::migrate(&db).await?;
    let seeded = seed::ensure(&db).await?;

    let app = api::Application::build(settings.clone(), db)?;
    let base = format!("http://127.0.0.1:{}", app.port());
    println!("Wattpay demo is running at {base}");
    println!("  data directory: {}", settings.data_dir.display());
    println!(
        "  demo data: {}",
        if seeded.created {
            "seeded a new demo organization"
        } else {
            "using the existing demo organization"
        }
    );
    println!(
        "  sign in: POST {base}/api/v1/auth/login  email {ADMIN_EMAIL}  password {ADMIN_PASSWORD}"
    );
    println!("  API description: {base}/api/openapi.json");
    println!("  accounts (number, unit, balance):");
    for account in &seeded.accounts {
        let protected = if account.protected {
            "  protected 保电"
        } else {
            ""
        };
        println!(
            "    {}  {}  ¥{}{protected}",
            account.account_no, account.unit, account.balance
        );
    }
    println!("Press Ctrl-C to stop.");
    app.run_until_stopped().await?;
    println!("Wattpay demo stopped.");
    Ok(())
}
