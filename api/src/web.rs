//! The web pages, served by the API binary itself: the property manager's dashboard at `/`,
//! the tenant's door page at `/t/{account_no}` and, after phone sign-in (`/t/login`), the
//! tenant's own accounts at `/t/me`.
//!
//! Rules it keeps: pages are rendered on the server from templates compiled into the binary,
//! with our own small CSS and JavaScript (no CDN, no third-party files); they call the store
//! and the same service functions as the REST handlers, never the REST API over HTTP; the
//! manager's session is the REST API's access token in an HttpOnly cookie, and every form post
//! is CSRF-checked; Simplified Chinese first, English second ([`i18n`]); every action that
//! moves money or power asks for confirmation.

mod account;
mod assets;
mod audit;
mod board;
mod chart;
mod closing;
mod control;
mod counter;
mod dashboard;
mod desk;
mod devices;
mod door;
pub mod i18n;
mod page;
mod pay;
mod query;
mod session;
mod tariff;
mod tenant;
mod tenant_chart;
mod tenant_session;
mod tenant_wechat;

use actix_web::web;

pub use page::{Templates, Web, WebError};
pub use session::{Manager, Session, ACCESS_COOKIE, REFRESH_COOKIE};

/// Mounts the pages (register once, after the API's routes).
///
/// # Panics
/// When a compiled-in template does not parse: a build defect that every test catches.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let templates = match Templates::new() {
        Ok(t) => t,
        Err(e) => panic!("compiled-in templates do not parse: {e:#}"),
    };
    cfg.app_data(web::Data::new(templates))
        .service(assets::file)
        .service(session::login_page)
        .service(session::login_submit)
        .service(session::logout)
        .service(dashboard::overview)
        .service(dashboard::accounts)
        .service(account::page)
        .service(counter::submit)
        .service(control::submit)
        .service(desk::page)
        .service(desk::day_end)
        .service(desk::day_end_csv)
        .service(desk::receipt_page)
        .service(desk::reverse)
        .service(desk::adjust)
        .service(tariff::list)
        .service(tariff::create)
        .service(tariff::page)
        .service(tariff::add_version)
        .service(audit::page)
        .service(devices::new_gateway)
        .service(devices::create_gateway)
        .service(devices::new_meter)
        .service(devices::create_meter)
        .service(closing::close)
        .service(board::sites)
        .service(board::building_board)
        .service(board::qr_sheet)
        .service(board::gateways)
        // The tenant's own pages before the door page's `/t/{account_no}`.
        .service(tenant_session::login_page)
        .service(tenant_session::send_code)
        .service(tenant_session::verify_code)
        .service(tenant_session::logout)
        .service(tenant::accounts)
        .service(tenant::save_preferences)
        .service(tenant::account)
        .service(tenant::receipt)
        .service(tenant_wechat::callback)
        .service(door::page)
        .service(door::events)
        .service(pay::submit);
}
