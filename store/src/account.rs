//! Prepaid accounts: the wallet of one occupancy of a unit. The balance column is only ever
//! changed by [`crate::ledger`], together with an entry.

use chrono::Utc;
use domain::Money;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;

use crate::entity::account;
use crate::error::inserted_or_conflict;
use crate::ledger::{self, NewEntry};
use crate::page::{fetch, Page, Paged};
use crate::scope::Scope;
use crate::{
    tariff, tenant, unit, Account, AccountId, AccountStatus, LedgerKind, OrgId, StoreError,
    TariffId, TenantId, UnitId, UserId,
};

/// How often a freshly drawn account number may collide before giving up (10^9 numbers).
const ACCOUNT_NO_ATTEMPTS: usize = 8;

#[derive(Clone, Debug)]
pub struct NewAccount {
    pub unit_id: UnitId,
    pub tenant_id: Option<TenantId>,
    pub tariff_id: Option<TariffId>,
    /// Posted as the `opening` entry; zero is fine.
    pub initial_balance: Money,
    pub created_by: Option<UserId>,
}

/// Opens an account with a fresh 10-digit account number and posts its `opening` entry, in
/// one transaction. The unit, tenant and tariff must belong to `org` (else `NotFound`).
pub async fn open_account<C>(db: &C, org: OrgId, new: NewAccount) -> Result<Account, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = db.begin().await?;
    let account = open_in_txn(&txn, org, new).await?;
    txn.commit().await?;
    Ok(account)
}

/// [`open_account`] inside the caller's transaction.
pub async fn open_in_txn(
    txn: &DatabaseTransaction,
    scope: impl Into<Scope>,
    new: NewAccount,
) -> Result<Account, StoreError> {
    let scope = scope.into();
    let org = scope.org;
    unit::get(txn, scope, new.unit_id).await?;
    if let Some(tenant_id) = new.tenant_id {
        tenant::get(txn, org, tenant_id).await?;
    }
    if let Some(tariff_id) = new.tariff_id {
        tariff::get(txn, org, tariff_id).await?;
    }
    let id = AccountId::new();
    let mut inserted = None;
    for _ in 0..ACCOUNT_NO_ATTEMPTS {
        let row = account::ActiveModel {
            id: Set(id),
            organization_id: Set(org),
            unit_id: Set(new.unit_id),
            tenant_id: Set(new.tenant_id),
            account_no: Set(draw_account_no()),
            balance_fen: Set(0),
            status: Set(AccountStatus::Open),
            alarm_threshold_fen: Set(None),
            trip_threshold_fen: Set(None),
            protected: Set(false),
            protect_reason: Set(None),
            cc_state: Set("normal".to_owned()),
            tariff_id: Set(new.tariff_id),
            opened_at: Set(Utc::now()),
            closed_at: Set(None),
        };
        // DO NOTHING rather than catching the violation: on PostgreSQL an error would abort
        // the caller's transaction, and a collision only means "draw again".
        let res = account::Entity::insert(row)
            .on_conflict(
                OnConflict::column(account::Column::AccountNo)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_with_returning(txn)
            .await;
        if let Some(model) = inserted_or_conflict(res)? {
            inserted = Some(model);
            break;
        }
    }
    let Some(created) = inserted else {
        return Err(StoreError::Invalid(
            "could not draw a free account number".into(),
        ));
    };
    ledger::post_in_txn(
        txn,
        org,
        NewEntry {
            account_id: created.id,
            kind: LedgerKind::Opening,
            amount: new.initial_balance,
            idempotency_key: format!("opening:{}", created.id),
            corrects: None,
            memo: None,
            created_by: new.created_by,
        },
    )
    .await?;
    get(txn, scope, created.id).await
}

/// Nine random digits (no leading zero) and a Luhn check digit, so a mistyped number from the
/// door sticker is caught before it is looked up.
fn draw_account_no() -> String {
    let random = Uuid::new_v4().as_u128();
    let body = 100_000_000 + random % 900_000_000;
    let digits = body.to_string();
    format!("{digits}{}", luhn_check_digit(&digits))
}

/// The Luhn check digit of a string of ASCII digits.
pub fn luhn_check_digit(digits: &str) -> u32 {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// Whether an account number is well formed (10 digits with a valid check digit).
pub fn is_valid_account_no(no: &str) -> bool {
    no.len() == 10
        && no.chars().all(|c| c.is_ascii_digit())
        && no[..9].parse::<u64>().is_ok()
        && no[9..].parse::<u32>().ok() == Some(luhn_check_digit(&no[..9]))
}

pub async fn get(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    id: AccountId,
) -> Result<Account, StoreError> {
    let scope = scope.into();
    account::Entity::find_by_id(id)
        .filter(scope.condition::<account::Entity>())
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Locks accounts for the rest of the caller's transaction, in id order (so two bulk posters
/// never wait on each other in a cycle), and answers them; accounts of another organization
/// than the one given are left out. `SELECT ... FOR UPDATE` on PostgreSQL; on SQLite the
/// caller's transaction has written first and holds the single writer lock.
pub async fn lock_many(
    conn: &impl ConnectionTrait,
    accounts: &[(OrgId, AccountId)],
) -> Result<Vec<Account>, StoreError> {
    let orgs: std::collections::HashMap<AccountId, OrgId> =
        accounts.iter().map(|&(o, a)| (a, o)).collect();
    let mut ids: Vec<AccountId> = orgs.keys().copied().collect();
    ids.sort_unstable();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1_000) {
        let rows = account::Entity::find()
            .filter(account::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(account::Column::Id)
            .lock_exclusive()
            .all(conn)
            .await?;
        out.extend(
            rows.into_iter()
                .filter(|a| orgs.get(&a.id) == Some(&a.organization_id)),
        );
    }
    Ok(out)
}

/// Accounts of the organization, of one unit when `unit_id` is given.
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    unit_id: Option<UnitId>,
    page: Page,
) -> Result<Paged<Account>, StoreError> {
    let scope = scope.into();
    let filter = AccountFilter {
        unit_id,
        ..AccountFilter::default()
    };
    list_filtered(conn, scope, &filter, page).await
}

/// List filters; `None` fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct AccountFilter {
    pub unit_id: Option<UnitId>,
    pub tenant_id: Option<TenantId>,
    pub account_no: Option<String>,
    pub status: Option<AccountStatus>,
    /// Charge-control state name (`normal`, `alarmed`, ...).
    pub state: Option<String>,
    pub protected: Option<bool>,
    /// Accounts whose balance is below this many fen.
    pub balance_below_fen: Option<i64>,
}

/// Accounts of the organization matching `filter`, oldest first.
pub async fn list_filtered(
    conn: &impl ConnectionTrait,
    scope: impl Into<Scope>,
    filter: &AccountFilter,
    page: Page,
) -> Result<Paged<Account>, StoreError> {
    let scope = scope.into();
    let mut select = account::Entity::find().filter(scope.condition::<account::Entity>());
    if let Some(unit_id) = filter.unit_id {
        select = select.filter(account::Column::UnitId.eq(unit_id));
    }
    if let Some(tenant_id) = filter.tenant_id {
        select = select.filter(account::Column::TenantId.eq(tenant_id));
    }
    if let Some(no) = &filter.account_no {
        select = select.filter(account::Column::AccountNo.eq(no.trim()));
    }
    if let Some(status) = filter.status {
        select = select.filter(account::Column::Status.eq(status));
    }
    if let Some(state) = &filter.state {
        select = select.filter(account::Column::CcState.eq(state.as_str()));
    }
    if let Some(protected) = filter.protected {
        select = select.filter(account::Column::Protected.eq(protected));
    }
    if let Some(below) = filter.balance_below_fen {
        select = select.filter(account::Column::BalanceFen.lt(below));
    }
    fetch(conn, select.order_by_asc(account::Column::Id), page).await
}

/// Changes to an account's settings; `None` fields stay, `Some(None)` clears.
#[derive(Clone, Debug, Default)]
pub struct AccountChanges {
    pub tenant_id: Option<Option<TenantId>>,
    pub tariff_id: Option<Option<TariffId>>,
    pub alarm_threshold: Option<Option<Money>>,
    pub trip_threshold: Option<Option<Money>>,
}

impl AccountChanges {
    pub fn is_empty(&self) -> bool {
        self.tenant_id.is_none()
            && self.tariff_id.is_none()
            && self.alarm_threshold.is_none()
            && self.trip_threshold.is_none()
    }
}

/// Updates an account's tenant, tariff or thresholds, audited in the caller's transaction.
/// Referenced tenants and tariffs must belong to `org`.
pub async fn update(
    txn: &DatabaseTransaction,
    scope: impl Into<Scope>,
    id: AccountId,
    changes: AccountChanges,
    actor: Option<UserId>,
) -> Result<Account, StoreError> {
    use sea_orm::ActiveModelTrait as _;
    let scope = scope.into();
    let org = scope.org;
    let before = get(txn, scope, id).await?;
    if changes.is_empty() {
        return Ok(before);
    }
    let mut row: account::ActiveModel = before.clone().into();
    if let Some(tenant_id) = changes.tenant_id {
        if let Some(t) = tenant_id {
            tenant::get(txn, org, t).await?;
        }
        row.tenant_id = Set(tenant_id);
    }
    if let Some(tariff_id) = changes.tariff_id {
        if let Some(t) = tariff_id {
            tariff::get(txn, org, t).await?;
        }
        row.tariff_id = Set(tariff_id);
    }
    if let Some(alarm) = changes.alarm_threshold {
        row.alarm_threshold_fen = Set(alarm.map(crate::money::to_fen).transpose()?);
    }
    if let Some(trip) = changes.trip_threshold {
        row.trip_threshold_fen = Set(trip.map(crate::money::to_fen).transpose()?);
    }
    let after = row.update(txn).await?;
    crate::audit::record(
        txn,
        Some(org),
        actor,
        "account.update",
        "account",
        &id.to_string(),
        serde_json::json!({
            "before": {"tenant_id": before.tenant_id, "tariff_id": before.tariff_id,
                       "alarm_threshold_fen": before.alarm_threshold_fen,
                       "trip_threshold_fen": before.trip_threshold_fen},
            "after": {"tenant_id": after.tenant_id, "tariff_id": after.tariff_id,
                      "alarm_threshold_fen": after.alarm_threshold_fen,
                      "trip_threshold_fen": after.trip_threshold_fen},
        }),
    )
    .await?;
    Ok(after)
}

/// Marks an account closed (no more top-ups or charges). The caller settles the balance first.
pub async fn close(
    txn: &DatabaseTransaction,
    scope: impl Into<Scope>,
    id: AccountId,
    actor: Option<UserId>,
) -> Result<Account, StoreError> {
    use sea_orm::ActiveModelTrait as _;
    let scope = scope.into();
    let org = scope.org;
    let before = get(txn, scope, id).await?;
    let mut row: account::ActiveModel = before.clone().into();
    row.status = Set(AccountStatus::Closed);
    row.closed_at = Set(Some(Utc::now()));
    let after = row.update(txn).await?;
    crate::audit::record(
        txn,
        Some(org),
        actor,
        "account.close",
        "account",
        &id.to_string(),
        serde_json::json!({"before": {"status": "open", "balance_fen": before.balance_fen},
                           "after": {"status": "closed", "balance_fen": after.balance_fen}}),
    )
    .await?;
    Ok(after)
}

/// The relay state last read back from a meter of the account's unit (`open`, `closed`), or
/// `None` when no reading reported one.
pub async fn last_relay(
    conn: &impl ConnectionTrait,
    org: OrgId,
    unit_id: UnitId,
) -> Result<Option<(String, chrono::DateTime<Utc>)>, StoreError> {
    use crate::entity::{meter, reading};
    use sea_orm::sea_query::Query;
    let meters = Query::select()
        .column(meter::Column::Id)
        .from(meter::Entity)
        .and_where(meter::Column::OrganizationId.eq(org))
        .and_where(meter::Column::UnitId.eq(unit_id))
        .to_owned();
    let found = reading::Entity::find()
        .filter(reading::Column::OrganizationId.eq(org))
        .filter(reading::Column::MeterId.in_subquery(meters))
        .filter(reading::Column::Relay.is_not_null())
        .order_by_desc(reading::Column::Ts)
        .one(conn)
        .await?;
    Ok(found.and_then(|r| r.relay.map(|relay| (relay, r.ts))))
}

impl Account {
    pub fn balance(&self) -> Money {
        Money::from_fen(self.balance_fen)
    }

    pub fn alarm_threshold(&self) -> Option<Money> {
        self.alarm_threshold_fen.map(Money::from_fen)
    }

    pub fn trip_threshold(&self) -> Option<Money> {
        self.trip_threshold_fen.map(Money::from_fen)
    }
}

/// Sets or clears protection (保电: never trip) with its reason, and records it in the audit
/// log in the same transaction. Another organization's account is `NotFound`.
pub async fn set_protection(
    txn: &DatabaseTransaction,
    scope: impl Into<Scope>,
    id: AccountId,
    protected: bool,
    reason: Option<String>,
    actor: Option<UserId>,
) -> Result<Account, StoreError> {
    use sea_orm::ActiveModelTrait as _;
    let scope = scope.into();
    let org = scope.org;
    let before = get(txn, scope, id).await?;
    let mut row: account::ActiveModel = before.clone().into();
    row.protected = Set(protected);
    row.protect_reason = Set(if protected { reason.clone() } else { None });
    let after = row.update(txn).await?;
    crate::audit::record(
        txn,
        Some(org),
        actor,
        if protected {
            "account.protect"
        } else {
            "account.unprotect"
        },
        "account",
        &id.to_string(),
        serde_json::json!({
            "before": {"protected": before.protected, "reason": before.protect_reason},
            "after": {"protected": after.protected, "reason": after.protect_reason},
        }),
    )
    .await?;
    Ok(after)
}
