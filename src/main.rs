//! `wattpay`: the one CLI of the cloud side (demo, api, worker, migrate, admin).

use clap::Parser as _;
use wattpay::{cli, logging};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    logging::init();
    cli::run(cli).await
}
