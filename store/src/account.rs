//! Prepaid accounts: the wallet of one occupancy of a unit. The balance column is only ever
//! changed by [`crate::ledger`], together with an entry.

use chrono::Utc;
use domain::Money;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use uuid::Uuid;

use crate::entity::account;
use crate::error::inserted_or_conflict;
use crate::ledger::{self, NewEntry};
use crate::page::{fetch, Page, Paged};
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
    org: OrgId,
    new: NewAccount,
) -> Result<Account, StoreError> {
    unit::get(txn, org, new.unit_id).await?;
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
    get(txn, org, created.id).await
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
    org: OrgId,
    id: AccountId,
) -> Result<Account, StoreError> {
    account::Entity::find_by_id(id)
        .filter(account::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Accounts of the organization, of one unit when `unit_id` is given.
pub async fn list(
    conn: &impl ConnectionTrait,
    org: OrgId,
    unit_id: Option<UnitId>,
    page: Page,
) -> Result<Paged<Account>, StoreError> {
    let mut select = account::Entity::find().filter(account::Column::OrganizationId.eq(org));
    if let Some(unit_id) = unit_id {
        select = select.filter(account::Column::UnitId.eq(unit_id));
    }
    fetch(conn, select.order_by_asc(account::Column::Id), page).await
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
    org: OrgId,
    id: AccountId,
    protected: bool,
    reason: Option<String>,
    actor: Option<UserId>,
) -> Result<Account, StoreError> {
    use sea_orm::ActiveModelTrait as _;
    let before = get(txn, org, id).await?;
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
