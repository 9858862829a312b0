//! HTTP routes, one module per resource. Handlers extract, call one service function and map
//! the result.

pub mod account;
pub mod audit;
pub mod auth;
pub mod building;
pub mod bulk;
pub mod command;
pub mod control;
pub mod counter;
pub mod docs;
pub mod export;
pub mod gateway;
pub mod health;
pub mod import;
pub mod ledger;
pub mod lifecycle;
pub mod me;
pub mod meter;
pub mod metrics;
pub mod mqtt;
pub mod org;
pub mod pay;
pub mod pay_merchant;
pub mod pay_refund;
pub mod public;
pub mod reading;
pub mod sandbox;
pub mod site;
pub mod stats;
pub mod tariff;
pub mod tenant;
pub mod tenant_auth;
pub mod unit;
pub mod user;
pub mod work_order;

use actix_web::web;

/// Mounts every route of the API on an actix `App`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(crate::openapi::openapi_json)
        .service(metrics::metrics)
        .service(docs::docs_redirect)
        .service(docs::swagger_ui())
        .configure(pay::configure)
        .service(
            web::scope("/api/v1")
                .service(auth::login)
                .service(auth::refresh)
                .service(auth::logout)
                .service(auth::me)
                .service(auth::accept_invitation)
                .service(auth::reset_password)
                .service(auth::change_password)
                .configure(identity)
                .configure(property)
                .configure(tenant_self_service)
                .configure(supervision)
                .configure(operations)
                .configure(follow_up),
        )
        .configure(crate::web::configure);
}

/// Organizations (platform admins) and their users (org admins).
fn identity(cfg: &mut web::ServiceConfig) {
    cfg.service(org::create)
        .service(org::list)
        .service(user::list)
        .service(user::invite)
        .service(user::update)
        .service(user::password_reset);
}

/// Commands, statistics and the audit log.
fn supervision(cfg: &mut web::ServiceConfig) {
    cfg.service(command::send)
        .service(command::history)
        .service(stats::overview)
        .service(audit::list);
}

/// Tenants on their phones: sign-in by one-time code and their own accounts.
fn tenant_self_service(cfg: &mut web::ServiceConfig) {
    cfg.service(tenant_auth::request_code)
        .service(tenant_auth::verify)
        .service(me::accounts)
        .service(me::account)
        .service(me::usage)
        .service(me::ledger)
        .service(me::preferences)
        .service(me::set_preferences)
        .service(public::door);
}

/// Property management: sites, buildings, units, tenants, accounts, tariffs, gateways, meters.
fn property(cfg: &mut web::ServiceConfig) {
    cfg.service(site::list)
        .service(site::create)
        .service(site::get)
        .service(site::update)
        .service(site::remove)
        .service(building::list)
        .service(building::create)
        .service(building::get)
        .service(building::update)
        .service(building::remove)
        .service(unit::list)
        .service(unit::create)
        .service(unit::get)
        .service(unit::update)
        .service(unit::remove)
        .service(tenant::list)
        .service(tenant::create)
        .service(tenant::get)
        .service(tenant::update)
        .service(tenant::remove)
        .service(account::list)
        .service(account::open)
        .service(account::get)
        .service(account::update)
        .service(ledger::account_ledger)
        .service(tariff::list)
        .service(tariff::create)
        .service(tariff::get)
        .service(tariff::update)
        .service(tariff::versions)
        .service(tariff::add_version)
        .service(gateway::list)
        .service(gateway::create)
        .service(gateway::get)
        .service(gateway::update)
        .service(gateway::rotate_password)
        .service(gateway::remove)
        .service(meter::list)
        .service(meter::create)
        .service(meter::get)
        .service(meter::update)
        .service(meter::remove)
        .service(reading::enter)
        .service(reading::list)
        .service(reading::account_usage)
        .service(lifecycle::close)
        .service(lifecycle::replace)
        .service(counter::pay)
        .service(counter::adjust)
        .service(counter::receipt)
        .service(counter::print)
        .service(counter::reverse)
        .service(counter::day_end);
}

/// Work orders, charge-control settings, bulk operations and CSV imports.
fn follow_up(cfg: &mut web::ServiceConfig) {
    cfg.service(work_order::list)
        .service(work_order::get)
        .service(work_order::assign)
        .service(work_order::comment)
        .service(work_order::resolve)
        .service(control::get_org)
        .service(control::put_org)
        .service(control::get_site)
        .service(control::put_site)
        .service(control::get_account)
        .service(control::put_account)
        .service(bulk::tariff)
        .service(bulk::control_settings)
        .service(bulk::commands)
        .service(import::upload);
}

/// Operations: broker credentials (Mosquitto export, EMQX hooks) and spreadsheet exports.
fn operations(cfg: &mut web::ServiceConfig) {
    cfg.service(mqtt::export_passwd)
        .service(mqtt::export_acl)
        .service(mqtt::export_platform_passwd)
        .service(mqtt::auth_hook)
        .service(mqtt::acl_hook)
        .service(export::accounts)
        .service(export::ledger)
        .service(export::day_end);
}
