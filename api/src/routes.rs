//! HTTP routes, one module per resource. Handlers extract, call one service function and map
//! the result.

pub mod auth;
pub mod health;
pub mod pay;
pub mod pay_merchant;
pub mod sandbox;

use actix_web::web;

/// Mounts every route of the API on an actix `App`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(crate::openapi::openapi_json)
        .configure(pay::configure)
        .service(
            web::scope("/api/v1")
                .service(auth::login)
                .service(auth::refresh)
                .service(auth::logout)
                .service(auth::me),
        )
        .configure(crate::web::configure);
}
