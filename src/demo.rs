//! `wattpay demo`: a whole building in one process, on embedded defaults — SQLite in the data
//! directory, the embedded MQTT broker, the in-process live cache, the sandbox payment provider,
//! a Modbus TCP meter simulator per bus and a gateway agent polling them exactly as it would
//! poll a real bus, the worker rating the readings, and the API with its pages.

mod seed;
mod site;

use anyhow::Context as _;
use clap::Args;

use crate::cli;
pub use seed::{Seeded, SeededAccount, BUSES};
pub use site::{DemoMeter, Site};

/// Sign-in of the demo organization's admin, printed at start.
pub const ADMIN_EMAIL: &str = "admin@demo.local";
pub const ADMIN_PASSWORD: &str = "wattpay-demo";
/// The demo building's gateway.
pub const GATEWAY_ID: &str = "gw-demo01";

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// HTTP port (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Meters on the demo gateway, spread over three buses (used when the data is first seeded).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u16).range(3..=600))]
    pub meters: u16,
    /// Multiplies the simulated load (not the clock), so balances fall faster.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub speed: u32,
}

/// Everything the demo runs, for [`run`] and for the end-to-end tests.
pub struct RunningDemo {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub db: sea_orm::DatabaseConnection,
    pub seeded: Seeded,
    pub site: Site,
    server: actix_web::dev::ServerHandle,
    server_task: tokio::task::JoinHandle<std::io::Result<()>>,
    worker: worker::run::Running,
}

impl RunningDemo {
    /// Stops the API, the agent, the simulators (saving their registers) and the worker.
    pub async fn stop(self) {
        self.server.stop(true).await;
        let _ = self.server_task.await;
        self.site.stop().await;
        self.worker.stop().await;
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts every part of the demo and returns once the API is listening.
pub async fn start(
    mut settings: api::Settings,
    mut ws: worker::Settings,
    args: &DemoArgs,
) -> anyhow::Result<RunningDemo> {
    let port = if args.port == 0 {
        free_port()?
    } else {
        args.port
    };
    let base = format!("http://127.0.0.1:{port}");
    settings.http_addr = format!("127.0.0.1:{port}");
    if settings.public_base_url == api::Settings::default().public_base_url {
        settings.public_base_url.clone_from(&base);
    }
    let db = cli::open_database(&settings).await?;
    store::migrate(&db).await?;
    let pay = api::pay::PayState::new(&settings, port)?;
    let seeded = seed::ensure(&db, args.meters, &pay.clients).await?;

    ws.data_dir.clone_from(&settings.data_dir);
    ws.database_url = Some(settings.effective_database_url());
    // The demo must show a trip whenever it is started, at night and at weekends too.
    "always".clone_into(&mut ws.trip_windows);
    // Its own broker on a free port: the demo never talks to a broker already on 1883.
    ws.embedded_broker_port = 0;
    let live = store::live::LiveCache::from_settings(ws.redis_url.as_deref(), &ws.redis_prefix)
        .await
        .context("connecting to the live cache")?;
    let jobs = vec![cli::payment_polling(&settings)?];
    let worker = worker::run::start_with_jobs(ws, db.clone(), live.clone(), jobs)?;
    let mqtt_url = worker
        .broker
        .as_ref()
        .map(worker::EmbeddedBroker::url)
        .or_else(|| worker.worker.settings().mqtt_url.clone())
        .context("no MQTT broker for the agent")?;

    let site = Site::start(&db, seeded.org, &settings.data_dir, &mqtt_url, args.speed).await?;

    // The API shares the worker's cache, so tenant pages show its snapshots as they change.
    let services = api::startup::Services {
        live,
        notifier: std::sync::Arc::new(store::notifier::FileOutboxNotifier::new(
            settings.data_dir.join("outbox"),
        )),
    };
    let app = api::Application::build_with(settings, db.clone(), services)?;
    let server = app.into_server();
    let handle = server.handle();
    let server_task = tokio::spawn(server);
    Ok(RunningDemo {
        base,
        db,
        seeded,
        site,
        server: handle,
        server_task,
        worker,
    })
}

pub async fn run(settings: api::Settings, args: DemoArgs) -> anyhow::Result<()> {
    let ws = worker::Settings::load(None)?;
    let data_dir = settings.data_dir.clone();
    let demo = start(settings, ws, &args).await?;
    let base = &demo.base;
    println!("Wattpay demo is running at {base}");
    println!("  data directory: {}", data_dir.display());
    println!(
        "  demo data: {}",
        if demo.seeded.created {
            "seeded a new demo organization"
        } else {
            "using the existing demo organization"
        }
    );
    println!("  dashboard: {base}/   sign in as {ADMIN_EMAIL} / {ADMIN_PASSWORD}");
    println!("  API: {base}/api/v1   description: {base}/api/openapi.json");
    println!(
        "  gateway {GATEWAY_ID}: {} meters on {} simulated buses, load x{}",
        demo.site.meters.len(),
        BUSES.len(),
        args.speed
    );
    let low: Vec<&SeededAccount> = demo
        .seeded
        .accounts
        .iter()
        .filter(|a| a.balance < domain::Money::from_fen(2_100))
        .collect();
    println!("  tenant door pages (low balances first):");
    for a in low.into_iter().chain(demo.seeded.accounts.iter().take(1)) {
        let protected = if a.protected {
            "  protected 保电"
        } else {
            ""
        };
        println!(
            "    {base}/t/{}  {}  meter {}  ¥{}{protected}",
            a.account_no, a.unit, a.meter, a.balance
        );
    }
    println!("Press Ctrl-C to stop.");
    crate::cli::shutdown_signal().await?;
    demo.stop().await;
    println!("Wattpay demo stopped.");
    Ok(())
}
