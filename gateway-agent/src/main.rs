//! `wattpay-agent`: the gateway agent binary. Everything lives in the library; see `cli.rs`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match gateway_agent::cli::main().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
