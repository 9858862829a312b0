//! `wattpay`: the one CLI of the cloud side (demo, api, worker, migrate, admin).

mod admin;
mod cli;
mod demo;
mod logging;
mod settings;

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    logging::init();
    cli::run(cli).await
}
