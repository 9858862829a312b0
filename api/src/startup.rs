//! Boot: `Application::build(settings, db)` binds the listener (port 0 in tests) and returns the
//! server ready to run, so tests and the demo start exactly what production starts.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};
use anyhow::Context as _;
use rand::RngCore as _;
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret as _, SecretString};

use store::live::LiveCache;
use store::notifier::{FileOutboxNotifier, Notifier};

use crate::auth::TokenKeys;
use crate::config::Settings;
use crate::error;
use crate::rate_limit::RateLimits;

/// Shared state of every request.
pub struct AppState {
    pub db: DatabaseConnection,
    pub keys: TokenKeys,
    pub settings: Settings,
    pub pay: crate::pay::PayState,
    /// Live balance snapshots the worker writes; readers fall back to the database.
    pub live: LiveCache,
    /// Sends tenants their one-time codes and users their invitations.
    pub notifier: Arc<dyn Notifier>,
    /// Sign-in, one-time-code and door-page rate limits of this process.
    pub limits: RateLimits,
    /// Keys the stored hashes of one-time codes (derived from the token secret).
    pub otp_key: Vec<u8>,
}

/// The services the API shares with the rest of a deployment. The demo passes the worker's
/// in-process cache, so tenants see the worker's snapshots; a standalone API with Redis passes
/// `LiveCache::from_settings(...)`.
#[derive(Clone)]
pub struct Services {
    pub live: LiveCache,
    pub notifier: Arc<dyn Notifier>,
}

impl Services {
    /// Embedded defaults: an in-process live cache (empty unless shared with a worker, so reads
    /// fall back to the database) and messages written to `<data_dir>/outbox`.
    pub fn embedded(settings: &Settings) -> Self {
        Services {
            live: LiveCache::in_process(),
            notifier: Arc::new(FileOutboxNotifier::new(settings.data_dir.join("outbox"))),
        }
    }
}

/// A bound, not yet running API server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds `settings.http_addr` and builds the server over an open, migrated database, with
    /// the embedded [`Services`].
    pub fn build(settings: Settings, db: DatabaseConnection) -> anyhow::Result<Self> {
        let services = Services::embedded(&settings);
        Self::build_with(settings, db, services)
    }

    /// [`Self::build`] with the given live cache and notifier.
    pub fn build_with(
        settings: Settings,
        db: DatabaseConnection,
        services: Services,
    ) -> anyhow::Result<Self> {
        let secret = jwt_secret(&settings)?;
        let keys = TokenKeys::new(
            secret.expose_secret().as_bytes(),
            settings.access_token_ttl(),
        )
        .with_tenant_ttl(std::time::Duration::from_secs(
            settings.tenant_token_ttl_secs,
        ));
        let otp_key = otp_key(&secret)?;
        let listener = TcpListener::bind(&settings.http_addr)
            .with_context(|| format!("binding {}", settings.http_addr))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            pay: crate::pay::PayState::new(&settings, port)?,
            db,
            keys: keys.clone(),
            live: services.live,
            notifier: services.notifier,
            limits: RateLimits::new(&settings),
            otp_key,
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

/// A key for one-time-code hashes, separate from the token key though derived from it.
fn otp_key(secret: &SecretString) -> anyhow::Result<Vec<u8>> {
    use hmac::Mac as _;
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret.expose_secret().as_bytes())
            .map_err(|e| anyhow::anyhow!("otp key: {e}"))?;
    mac.update(b"wattpay one-time codes");
    Ok(mac.finalize().into_bytes().to_vec())
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
