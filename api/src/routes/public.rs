//! `GET /api/v1/public/accounts/{account_no}`: what the door page shows anyone holding the
//! account number — balance, power state, masked tenant name, unit — and nothing else
//! (ARCHITECTURE.md invariant 5's one exception). Closed accounts and malformed numbers answer
//! 404 like unknown ones; look-ups are rate limited per client address.

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Serialize;
use store::AccountStatus;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::money::show;
use crate::rate_limit::{client_address, hit};
use crate::service::live_view::live_view;
use crate::startup::AppState;

/// The door page's data.
#[derive(Serialize, ToSchema)]
pub struct DoorAccount {
    pub account_no: String,
    /// Yuan, two decimals.
    pub balance: String,
    /// `on`, `soon_off`, `off` or `restoring`.
    pub power: String,
    /// The tenant's name, masked (`张*`).
    pub tenant: Option<String>,
    /// `Building 1 101`.
    pub unit: String,
}

/// The door page of an account number (public).
#[utoipa::path(get, path = "/api/v1/public/accounts/{account_no}", tag = "tenant",
    params(("account_no" = String, Path, description = "The number on the door sticker")),
    responses((status = 200, body = DoorAccount),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json")))]
#[get("/public/accounts/{account_no}")]
pub async fn door(
    req: HttpRequest,
    state: web::Data<AppState>,
    account_no: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let address = client_address(&req, state.settings.trust_forwarded_for);
    hit(&state.limits.public_address, &address)?;
    let not_found = || ApiError::not_found("account_not_found", "account");
    let no = account_no.trim();
    if !store::account::is_valid_account_no(no) {
        return Err(not_found());
    }
    let a = store::unscoped::find_by_account_no(&state.db, no)
        .await?
        .filter(|a| a.status == AccountStatus::Open)
        .ok_or_else(not_found)?;
    let db = &state.db;
    let org = a.organization_id;
    let live = live_view(&state, &a).await?;
    let unit = store::unit::get(db, org, a.unit_id).await?;
    let building = store::building::get(db, org, unit.building_id).await?;
    let tenant = match a.tenant_id {
        Some(t) => Some(super::tenant::mask_name(
            &store::tenant::get(db, org, t).await?.name,
        )),
        None => None,
    };
    Ok(HttpResponse::Ok().json(DoorAccount {
        account_no: a.account_no,
        balance: show(live.balance),
        power: crate::service::live_view::power_of(&live.cc_state).to_owned(),
        tenant,
        unit: format!("{} {}", building.name, unit.name),
    }))
}
