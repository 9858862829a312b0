//! Tracing setup: human-readable by default, JSON lines when `WATTPAY_LOG_FORMAT=json`; the
//! filter comes from `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        // The embedded broker logs every closed probe connection as an error; migrations log
        // each step. Neither helps an operator; RUST_LOG brings them back.
        .unwrap_or_else(|_| {
            EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,rumqttd=off")
        });
    let json = std::env::var("WATTPAY_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
