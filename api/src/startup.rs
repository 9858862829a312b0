//! Boot: `Application::build(settings, db)` binds the listener (port 0 in tests) and returns the
//! server ready to run, so tests and the demo start exactly what production starts.

use std::net::TcpListener;
use std::path::Path;

use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};
use anyhow::Context as _;
use rand::RngCore as _;
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret as _, SecretString};

use crate::auth::TokenKeys;
use crate::config::Settings;
use crate::error;

/// Shared state of every request.
pub struct AppState {
    pub db: DatabaseConnection,
    pub keys: TokenKeys,
    pub settings: Settings,
    pub pay: crate::pay::PayState,
}

/// A bound, not yet running API server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds `settings.http_addr` and builds the server over an open, migrated database.
    pub fn build(settings: Settings, db: DatabaseConnection) -> anyhow::Result<Self> {
        let secret = jwt_secret(&settings)?;
        let keys = TokenKeys::new(
            secret.expose_secret().as_bytes(),
            settings.access_token_ttl(),
        );
        let listener = TcpListener::bind(&settings.http_addr)
            .with_context(|| format!("binding {}", settings.http_addr))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            pay: crate::pay::PayState::new(&settings, port)?,
            db,
            keys: keys.clone(),
            settings,
        });
        let keys = web::Data::new(keys);
        let metrics = web::Data::new(crate::metrics::Metrics::new()?);
        let server = HttpServer::new(move || {
            App::new()
                .wrap(middleware::from_fn(crate::metrics::track))
                .wrap(middleware::Logger::new("%r %s %Dms").log_target("wattpay::http"))
                .wrap(middleware::Compress::default())
                .app_data(state.clone())
                .app_data(keys.clone())
                .app_data(metrics.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(64 * 1024)
                        .error_handler(error::json_error_handler),
                )
                .app_data(web::QueryConfig::default().error_handler(error::query_error_handler))
                .app_data(web::PathConfig::default().error_handler(error::path_error_handler))
                .configure(crate::routes::configure)
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        .shutdown_timeout(10)
        .run();
        Ok(Self { port, server })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server is stopped (Ctrl-C / SIGTERM are handled by actix).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// The server future, for callers that want to stop it through its handle.
    pub fn into_server(self) -> Server {
        self.server
    }
}

async fn not_found() -> Result<actix_web::HttpResponse, error::ApiError> {
    Err(error::ApiError::NotFound {
        code: "route_not_found",
        what: "route",
    })
}

/// The configured JWT secret, or one generated on first start and kept in the data directory,
/// so tokens survive restarts of a demo or a single-box install.
fn jwt_secret(settings: &Settings) -> anyhow::Result<SecretString> {
    if let Some(secret) = &settings.jwt_secret {
        anyhow::ensure!(
            secret.expose_secret().len() >= 32,
            "WATTPAY_JWT_SECRET must be at least 32 characters"
        );
        return Ok(secret.clone());
    }
    load_or_create_secret(&settings.data_dir, "jwt_secret")
}

/// Reads `data_dir/secrets/<name>`, creating it with 256 random bits when missing.
pub fn load_or_create_secret(data_dir: &Path, name: &str) -> anyhow::Result<SecretString> {
    use base64::Engine as _;
    let dir = data_dir.join("secrets");
    let path = dir.join(name);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if !existing.is_empty() {
            return Ok(SecretString::from(existing));
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    restrict_permissions(&path)?;
    Ok(SecretString::from(secret))
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}
