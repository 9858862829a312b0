//! Gateway credentials for the broker, so a gateway added in the dashboard can connect without
//! anyone editing files by hand:
//! - Mosquitto: `GET /api/v1/gateways/export/mosquitto-passwd` and `.../mosquitto-acl` (org
//!   admins; their organization's gateways), `GET /api/v1/platform/mosquitto-passwd` (platform
//!   admins: every gateway plus the workers' user). Reload Mosquitto with SIGHUP after writing.
//! - EMQX 5: the HTTP authentication hook `POST /api/v1/mqtt/auth` and authorization hook
//!   `POST /api/v1/mqtt/acl`, answering EMQX's documented JSON (`{"result": "allow" | "deny" |
//!   "ignore", "is_superuser": false}` and `{"result": "allow" | "deny"}`). EMQX must send the
//!   shared secret `WATTPAY_MQTT_HOOK_SECRET` in the `x-wattpay-hook-secret` header; without
//!   the setting the hooks answer 404 (EMQX reads any 4xx as `ignore`, and its `no_match = deny`
//!   then refuses).

pub mod broker_files;
pub mod topic_rules;

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use domain::Role;
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, ToSchema};

use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::startup::AppState;
use topic_rules::Action;

/// The header EMQX sends the shared hook secret in.
pub const HOOK_SECRET_HEADER: &str = "x-wattpay-hook-secret";
/// The workers' MQTT username when `WATTPAY_MQTT_USERNAME` is not set.
pub const DEFAULT_WORKER_USERNAME: &str = "wattpay-worker";

fn worker_username(state: &AppState) -> &str {
    state
        .settings
        .mqtt_username
        .as_deref()
        .unwrap_or(DEFAULT_WORKER_USERNAME)
}

fn text_file(name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// Mosquitto password file of the organization's gateways.
#[utoipa::path(get, path = "/api/v1/gateways/export/mosquitto-passwd", tag = "devices",
    security(("bearer" = [])),
    responses((status = 200, description = "`gw-...:$7$...` lines", body = String, content_type = "text/plain"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/gateways/export/mosquitto-passwd")]
pub async fn export_passwd(
    ctx: OrgContext,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::ADMIN)?;
    let gateways = broker_files::gateway_hashes(&state.db, ctx.org_id).await?;
    Ok(text_file(
        "passwd",
        broker_files::passwd_file(&[], &gateways),
    ))
}

/// Mosquitto ACL file confining each gateway to its own topics.
#[utoipa::path(get, path = "/api/v1/gateways/export/mosquitto-acl", tag = "devices",
    security(("bearer" = [])),
    responses((status = 200, body = String, content_type = "text/plain"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/gateways/export/mosquitto-acl")]
pub async fn export_acl(
    ctx: OrgContext,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::ADMIN)?;
    Ok(text_file(
        "acl",
        broker_files::acl_file(worker_username(&state)),
    ))
}

/// Platform admins: the password file of the whole platform's broker, every organization's
/// gateways and (when `WATTPAY_MQTT_PASSWORD` is set) the workers' user.
#[utoipa::path(get, path = "/api/v1/platform/mosquitto-passwd", tag = "devices",
    security(("bearer" = [])),
    responses((status = 200, body = String, content_type = "text/plain"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/platform/mosquitto-passwd")]
pub async fn export_platform_passwd(
    ctx: OrgContext,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(&[Role::PlatformAdmin])?;
    let gateways = broker_files::all_gateway_hashes(&state.db).await?;
    let worker: Vec<String> = state
        .settings
        .mqtt_password
        .iter()
        .map(|p| broker_files::worker_line(worker_username(&state), p))
        .collect();
    Ok(text_file(
        "passwd",
        broker_files::passwd_file(&worker, &gateways),
    ))
}

/// What EMQX's HTTP authenticator sends (its `body` template in `deploy/kubernetes/emqx.yaml`).
#[derive(Deserialize, ToSchema)]
pub struct AuthRequest {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub clientid: String,
}

/// EMQX's HTTP authentication answer.
#[derive(Serialize, ToSchema)]
pub struct AuthResponse {
    /// `allow`, `deny` or `ignore` (an unknown user: the next authenticator decides).
    pub result: &'static str,
    pub is_superuser: bool,
}

/// What EMQX's HTTP authorizer sends.
#[derive(Deserialize, ToSchema)]
pub struct AclRequest {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub topic: String,
    /// `publish` or `subscribe`.
    #[serde(default)]
    pub action: String,
}

/// EMQX's HTTP authorization answer.
#[derive(Serialize, ToSchema)]
pub struct AclResponse {
    /// `allow` or `deny`.
    pub result: &'static str,
}

/// Checks the shared secret EMQX sends; the hooks do not exist without one configured.
fn check_hook_secret(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let Some(secret) = &state.settings.mqtt_hook_secret else {
        return Err(ApiError::not_found("route_not_found", "route"));
    };
    let given = req
        .headers()
        .get(HOOK_SECRET_HEADER)
        .map(header::HeaderValue::as_bytes)
        .unwrap_or_default();
    if constant_time_eq(given, secret.expose_secret().as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::unauthorized(
            "invalid_hook_secret",
            format!("missing or wrong `{HOOK_SECRET_HEADER}` header"),
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// EMQX HTTP authentication: may this client connect with this username and password?
#[utoipa::path(post, path = "/api/v1/mqtt/auth", tag = "devices",
    security(("mqtt_hook" = [])), request_body = AuthRequest,
    responses((status = 200, body = AuthResponse),
        (status = 401, description = "`invalid_hook_secret`", body = Problem, content_type = "application/problem+json")))]
#[post("/mqtt/auth")]
pub async fn auth_hook(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<AuthRequest>,
) -> Result<HttpResponse, ApiError> {
    check_hook_secret(&req, &state)?;
    let AuthRequest {
        username, password, ..
    } = body.into_inner();
    let result = if username == worker_username(&state) {
        let ok =
            state.settings.mqtt_password.as_ref().is_some_and(|p| {
                constant_time_eq(p.expose_secret().as_bytes(), password.as_bytes())
            });
        if ok {
            "allow"
        } else {
            "deny"
        }
    } else if store::gateway::is_valid_wire_id(&username) {
        match store::unscoped::find_gateway_by_wire_id(&state.db, &username).await? {
            Some(g) => {
                let hash = g.mqtt_password_hash.unwrap_or_default();
                // PBKDF2 is deliberately slow: keep it off the async workers.
                let ok = web::block(move || crate::mqtt_password::verify(&password, &hash))
                    .await
                    .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
                if ok {
                    "allow"
                } else {
                    "deny"
                }
            }
            None => "ignore",
        }
    } else {
        "ignore"
    };
    Ok(HttpResponse::Ok().json(AuthResponse {
        result,
        is_superuser: false,
    }))
}

/// EMQX HTTP authorization: may this user publish or subscribe to this topic?
#[utoipa::path(post, path = "/api/v1/mqtt/acl", tag = "devices",
    security(("mqtt_hook" = [])), request_body = AclRequest,
    responses((status = 200, body = AclResponse),
        (status = 401, description = "`invalid_hook_secret`", body = Problem, content_type = "application/problem+json")))]
#[post("/mqtt/acl")]
pub async fn acl_hook(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<AclRequest>,
) -> Result<HttpResponse, ApiError> {
    check_hook_secret(&req, &state)?;
    let action = match body.action.as_str() {
        "publish" => Some(Action::Publish),
        "subscribe" => Some(Action::Subscribe),
        _ => None,
    };
    let worker = worker_username(&state);
    let mut allow =
        action.is_some_and(|a| topic_rules::allowed(&body.username, worker, a, &body.topic));
    if allow && body.username != worker {
        // A gateway deleted in the dashboard loses its topics even while still connected.
        allow = store::unscoped::find_gateway_by_wire_id(&state.db, &body.username)
            .await?
            .is_some();
    }
    Ok(HttpResponse::Ok().json(AclResponse {
        result: if allow { "allow" } else { "deny" },
    }))
}

/// Registers the `mqtt_hook` security scheme (the shared-secret header) in the OpenAPI document.
pub struct HookSecretScheme;

impl Modify for HookSecretScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "mqtt_hook",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(HOOK_SECRET_HEADER))),
        );
    }
}
