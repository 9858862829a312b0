//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations and served at
//! `/api/openapi.json`; `openapi/openapi.json` in the repository is this document, checked by a
//! test so it never drifts from the code.

use actix_web::{get, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;
use crate::routes::mqtt::HookSecretScheme;

#[derive(OpenApi)]
#[openapi(
    info(title = "Wattpay API", description = "Prepaid electricity for rented buildings (先交费后用电)."),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::metrics::metrics,
        routes::auth::login,
        routes::auth::refresh,
        routes::auth::logout,
        routes::auth::me,
        routes::auth::accept_invitation, routes::auth::reset_password,
        routes::auth::change_password,
        routes::org::create, routes::org::list,
        routes::user::list, routes::user::invite, routes::user::update,
        routes::user::password_reset,
        routes::site::list, routes::site::create, routes::site::get, routes::site::update,
        routes::site::remove,
        routes::building::list, routes::building::create, routes::building::get,
        routes::building::update, routes::building::remove,
        routes::unit::list, routes::unit::create, routes::unit::get, routes::unit::update,
        routes::unit::remove,
        routes::tenant::list, routes::tenant::create, routes::tenant::get, routes::tenant::update,
        routes::tenant::remove,
        routes::account::list, routes::account::open, routes::account::get,
        routes::account::update, routes::ledger::account_ledger,
        routes::tariff::list, routes::tariff::create, routes::tariff::get, routes::tariff::update,
        routes::tariff::versions, routes::tariff::add_version,
        routes::gateway::list, routes::gateway::create, routes::gateway::get,
        routes::gateway::update, routes::gateway::rotate_password, routes::gateway::remove,
        routes::meter::list, routes::meter::create, routes::meter::get, routes::meter::update,
        routes::meter::remove,
        routes::reading::enter, routes::reading::list, routes::reading::account_usage,
        routes::lifecycle::close, routes::lifecycle::replace,
        routes::pay::create_order,
        routes::pay::order_status,
        routes::pay::notify,
        routes::pay_merchant::create,
        routes::pay_merchant::list,
        routes::pay_merchant::import_bill,
        routes::pay_refund::create,
        routes::pay_refund::approve,
        routes::counter::pay, routes::counter::adjust, routes::counter::receipt,
        routes::counter::print, routes::counter::reverse, routes::counter::day_end,
        routes::command::send, routes::command::history, routes::stats::overview,
        routes::audit::list,
        routes::tenant_auth::request_code, routes::tenant_auth::verify,
        routes::me::accounts, routes::me::account, routes::me::usage, routes::me::ledger,
        routes::me::preferences, routes::me::set_preferences, routes::public::door,
        routes::mqtt::export_passwd, routes::mqtt::export_acl,
        routes::mqtt::export_platform_passwd, routes::mqtt::auth_hook, routes::mqtt::acl_hook,
        routes::export::accounts, routes::export::ledger, routes::export::day_end,
        routes::work_order::list, routes::work_order::get, routes::work_order::assign,
        routes::work_order::comment, routes::work_order::resolve,
        routes::control::get_org, routes::control::put_org, routes::control::get_site,
        routes::control::put_site, routes::control::get_account, routes::control::put_account,
        routes::bulk::tariff, routes::bulk::control_settings, routes::bulk::commands,
        routes::import::upload,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&BearerAuth, &HookSecretScheme),
    tags(
        (name = "health", description = "Probes"),
        (name = "auth", description = "Manager sign-in, invitations, passwords"),
        (name = "users", description = "An organization's users: invitations, roles, site limits, password resets"),
        (name = "platform", description = "Organizations, for platform admins"),
        (name = "tenant", description = "Tenants: one-time-code sign-in, their own accounts, the public door page"),
        (name = "property", description = "Sites, buildings, units and tenants"),
        (name = "accounts", description = "Prepaid accounts and their ledgers"),
        (name = "tariffs", description = "Tariffs and their versions"),
        (name = "devices", description = "Gateways and meters"),
        (name = "payments", description = "Top-ups, provider notifications and merchant accounts"),
        (name = "counter", description = "Counter desk: payments, reversals, adjustments, day-end report"),
        (name = "work_orders", description = "Work orders the worker opened: assign, comment, resolve (an anomaly's resolution sets the meter's new baseline)"),
        (name = "control", description = "Charge-control settings at organization, site and account level, with inheritance"),
        (name = "bulk", description = "Bulk operations: tariffs, charge-control settings and commands for many rows at once, all or nothing"),
        (name = "imports", description = "CSV imports of units, tenants and meters, with a dry run"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON with a trailing newline (the form checked into the repository).
pub fn document() -> anyhow::Result<String> {
    let mut json = ApiDoc::openapi().to_pretty_json()?;
    json.push('\n');
    Ok(json)
}

/// The OpenAPI document of this API.
#[get("/api/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
