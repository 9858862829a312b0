//! Prepaid accounts: `/api/v1/accounts` (open, find by `account_no`, change settings, protect).
//!
//! The balance changes only through the ledger: opening balances here, payments at the counter
//! ([`super::counter`]), charges in the worker. Changes the worker must react to (protection,
//! thresholds) are announced with an `account.control_changed` outbox row in the same
//! transaction.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::Money;
use sea_orm::{ConnectionTrait, TransactionTrait as _};
use serde::{Deserialize, Serialize};
use store::account::{AccountChanges, AccountFilter, NewAccount};
use store::{Account, AccountId, AccountStatus, OrgId, TariffId, TenantId, UnitId};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::context::roles;
use crate::auth::OrgContext;
use crate::error::{ApiError, Problem};
use crate::list::{ListQuery, ListResponse, SortQuery};
use crate::money::{parse_amount, parse_optional_threshold, show};
use crate::startup::AppState;

/// An account as managers see it.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub id: Uuid,
    /// Printed on the door QR code; unique within the platform.
    pub account_no: String,
    pub unit_id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub tariff_id: Option<Uuid>,
    /// Yuan, two decimals.
    pub balance: String,
    /// Charge-control state: `normal`, `alarmed`, `trip_pending`, `tripped`, `restoring`.
    pub state: String,
    /// `open` or `closed`.
    pub status: String,
    /// Never tripped while set (保电).
    pub protected: bool,
    pub protect_reason: Option<String>,
    /// Last relay state read back from the unit's meter: `open`, `closed` or `unknown`.
    pub relay: String,
    /// Own alarm threshold; `null` means the site's.
    pub alarm_threshold: Option<String>,
    /// Own trip threshold; `null` means the site's.
    pub trip_threshold: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl AccountView {
    pub fn new(a: Account, relay: Option<String>) -> Self {
        AccountView {
            balance: show(a.balance()),
            alarm_threshold: a.alarm_threshold().map(show),
            trip_threshold: a.trip_threshold().map(show),
            id: a.id.into(),
            account_no: a.account_no,
            unit_id: a.unit_id.into(),
            tenant_id: a.tenant_id.map(Into::into),
            tariff_id: a.tariff_id.map(Into::into),
            state: a.cc_state,
            status: match a.status {
                AccountStatus::Open => "open",
                AccountStatus::Closed => "closed",
            }
            .to_owned(),
            protected: a.protected,
            protect_reason: a.protect_reason,
            relay: relay.unwrap_or_else(|| "unknown".to_owned()),
            opened_at: a.opened_at,
            closed_at: a.closed_at,
        }
    }

    /// The view with the relay state looked up.
    pub async fn load(
        conn: &impl ConnectionTrait,
        org: OrgId,
        a: Account,
    ) -> Result<Self, ApiError> {
        let relay = store::account::last_relay(conn, org, a.unit_id).await?;
        Ok(Self::new(a, relay.map(|(r, _)| r)))
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAccount {
    pub unit_id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub tariff_id: Option<Uuid>,
    /// Posted as the `opening` ledger entry, yuan; default `0`.
    pub opening_balance: Option<String>,
}

/// Settings to change. `protected: true` needs a `reason`; `null` thresholds fall back to the
/// site's.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub tenant_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub tariff_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    #[schema(value_type = Option<String>)]
    pub alarm_threshold: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    #[schema(value_type = Option<String>)]
    pub trip_threshold: Option<Option<String>>,
    pub protected: Option<bool>,
    /// Why protection is set or lifted (audited).
    pub reason: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// The 10-digit number from the door sticker.
    pub account_no: Option<String>,
    pub unit_id: Option<Uuid>,
    pub tenant_id: Option<Uuid>,
    /// `open` or `closed`.
    pub status: Option<String>,
    /// Charge-control state.
    pub state: Option<String>,
    pub protected: Option<bool>,
}

pub fn not_found(e: store::StoreError) -> ApiError {
    ApiError::from_store(e, "account_not_found", "account")
}

const STATES: [&str; 5] = ["normal", "alarmed", "trip_pending", "tripped", "restoring"];

/// List accounts; `?account_no=` finds one by its door number.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])),
    params(ListQuery, SortQuery, AccountQuery),
    responses((status = 200, body = ListResponse<AccountView>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/accounts")]
pub async fn list(
    ctx: OrgContext,
    state: web::Data<AppState>,
    page: web::Query<ListQuery>,
    sort: web::Query<SortQuery>,
    q: web::Query<AccountQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let page = sort.apply(page.page()?, SORTS)?;
    let q = q.into_inner();
    let status = match q.status.as_deref() {
        None => None,
        Some("open") => Some(AccountStatus::Open),
        Some("closed") => Some(AccountStatus::Closed),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "status is open or closed",
            ))
        }
    };
    if q.state.as_deref().is_some_and(|s| !STATES.contains(&s)) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "unknown charge-control state",
        ));
    }
    let filter = AccountFilter {
        unit_id: q.unit_id.map(UnitId::from),
        tenant_id: q.tenant_id.map(TenantId::from),
        account_no: q.account_no,
        status,
        state: q.state,
        protected: q.protected,
        balance_below_fen: None,
    };
    let paged = store::account::list_filtered(&state.db, ctx.scope(), &filter, page).await?;
    let mut items = Vec::with_capacity(paged.items.len());
    for a in paged.items {
        items.push(AccountView::load(&state.db, ctx.org_id, a).await?);
    }
    Ok(HttpResponse::Ok().json(ListResponse {
        items,
        page: page.page,
        per_page: page.per_page,
        total: paged.total,
    }))
}

/// Open an account (开户) for a tenant in a unit, with an optional opening balance.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])),
    request_body = OpenAccount,
    responses((status = 201, body = AccountView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`unit_occupied`", body = Problem, content_type = "application/problem+json")))]
#[post("/accounts")]
pub async fn open(
    ctx: OrgContext,
    state: web::Data<AppState>,
    body: web::Json<OpenAccount>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let body = body.into_inner();
    let opening = match &body.opening_balance {
        Some(a) => parse_amount("opening_balance", a)?,
        None => Money::ZERO,
    };
    // One open account per unit: the next occupant's account opens once this one is closed.
    let occupied = AccountFilter {
        unit_id: Some(UnitId::from(body.unit_id)),
        status: Some(AccountStatus::Open),
        ..AccountFilter::default()
    };
    let page = store::Page::new(1, 1);
    if store::account::list_filtered(&state.db, ctx.scope(), &occupied, page)
        .await?
        .total
        > 0
    {
        return Err(ApiError::conflict(
            "unit_occupied",
            "the unit has an open account: close it first",
        ));
    }
    let new = NewAccount {
        unit_id: UnitId::from(body.unit_id),
        tenant_id: body.tenant_id.map(TenantId::from),
        tariff_id: body.tariff_id.map(TariffId::from),
        initial_balance: opening,
        created_by: Some(ctx.user_id),
    };
    let account = state
        .db
        .transaction::<_, Account, ApiError>(|txn| {
            Box::pin(async move {
                let a = store::account::open_in_txn(txn, ctx.scope(), new).await?;
                store::outbox::enqueue(
                    txn,
                    Some(ctx.org_id),
                    store::outbox::kind::BALANCE_CHANGED,
                    serde_json::json!({"account_id": a.id}),
                )
                .await?;
                ctx.audit(
                    txn,
                    "account.open",
                    "account",
                    a.id,
                    serde_json::json!({"after": &a}),
                )
                .await?;
                Ok(a)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(AccountView::new(account, None)))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AccountView),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json")))]
#[get("/accounts/{id}")]
pub async fn get(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::READ)?;
    let a = store::account::get(&state.db, ctx.scope(), AccountId::from(*id))
        .await
        .map_err(not_found)?;
    Ok(HttpResponse::Ok().json(AccountView::load(&state.db, ctx.org_id, a).await?))
}

/// Change an account's tenant, tariff, thresholds or protection (保电).
#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateAccount,
    responses((status = 200, body = AccountView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`account_not_found`", body = Problem, content_type = "application/problem+json")))]
#[patch("/accounts/{id}")]
pub async fn update(
    ctx: OrgContext,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateAccount>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(roles::MANAGE)?;
    let body = body.into_inner();
    let reason = body
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if body.protected == Some(true) && reason.is_none() {
        return Err(ApiError::bad_request(
            "reason_required",
            "protection needs a reason",
        ));
    }
    let changes = AccountChanges {
        tenant_id: body.tenant_id.map(|t| t.map(TenantId::from)),
        tariff_id: body.tariff_id.map(|t| t.map(TariffId::from)),
        alarm_threshold: parse_optional_threshold(
            "alarm_threshold",
            body.alarm_threshold.as_ref(),
        )?,
        trip_threshold: parse_optional_threshold("trip_threshold", body.trip_threshold.as_ref())?,
    };
    let protected = body.protected;
    let id = AccountId::from(*id);
    let account = state
        .db
        .transaction::<_, Account, ApiError>(|txn| {
            Box::pin(async move {
                let control = !changes.is_empty() || protected.is_some();
                let mut a =
                    store::account::update(txn, ctx.scope(), id, changes, Some(ctx.user_id))
                        .await
                        .map_err(not_found)?;
                if let Some(p) = protected {
                    if p != a.protected || p {
                        a = store::account::set_protection(
                            txn,
                            ctx.scope(),
                            id,
                            p,
                            reason,
                            Some(ctx.user_id),
                        )
                        .await?;
                    }
                }
                if control {
                    store::outbox::enqueue(
                        txn,
                        Some(ctx.org_id),
                        store::outbox::kind::ACCOUNT_CONTROL_CHANGED,
                        serde_json::json!({"account_id": id}),
                    )
                    .await?;
                }
                Ok(a)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(AccountView::load(&state.db, ctx.org_id, account).await?))
}

/// The fields `?sort=` accepts on the list (name in the API, column).
const SORTS: &[(&str, &str)] = &[
    ("account_no", "account_no"),
    ("balance", "balance_fen"),
    ("state", "cc_state"),
    ("status", "status"),
    ("opened_at", "opened_at"),
];
