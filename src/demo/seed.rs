//! The demo organization: a residential compound with one building, a tiered residential
//! tariff, tenants and prepaid accounts with varied balances (some low, one protected).
//! Seeding is idempotent: a second start on the same data directory keeps what is there.

use chrono::{TimeZone as _, Utc};
use domain::Money;
use sea_orm::{DatabaseConnection, TransactionTrait as _};

use super::{ADMIN_EMAIL, ADMIN_PASSWORD};

pub struct Seeded {
    pub created: bool,
    pub accounts: Vec<SeededAccount>,
}

pub struct SeededAccount {
    pub account_no: String,
    pub unit: String,
    pub balance: Money,
    pub protected: bool,
}

/// Units of the demo building: (unit, tenant, phone, opening balance in fen, protected).
const UNITS: &[(&str, &str, &str, i64, bool)] = &[
    ("1-101", "张伟 Zhang Wei", "13800000101", 12_000, false),
    ("1-102", "王芳 Wang Fang", "13800000102", 3_550, false),
    ("1-201", "李娜 Li Na", "13800000201", 1_500, false),
    ("1-202", "刘洋 Liu Yang", "13800000202", 320, false),
    ("1-301", "陈静 Chen Jing", "13800000301", 20_000, false),
    ("1-302", "赵敏 Zhao Min", "13800000302", 800, true),
];

pub async fn ensure(db: &DatabaseConnection) -> anyhow::Result<Seeded> {
    if let Some(user) = store::user::find_user_by_email(db, ADMIN_EMAIL).await? {
        let memberships = store::user::memberships_of(db, user.id).await?;
        if let Some(m) = memberships.first() {
            return Ok(Seeded {
                created: false,
                accounts: list_accounts(db, m.organization_id).await?,
            });
        }
    }
    let org = create(db).await?;
    Ok(Seeded {
        created: true,
        accounts: list_accounts(db, org).await?,
    })
}

async fn list_accounts(
    db: &DatabaseConnection,
    org: store::ids::OrgId,
) -> anyhow::Result<Vec<SeededAccount>> {
    let page = store::account::list(db, org, None, store::Page::new(1, 200)).await?;
    let mut out = Vec::with_capacity(page.items.len());
    for a in page.items {
        let unit = store::unit::get(db, org, a.unit_id).await?;
        out.push(SeededAccount {
            account_no: a.account_no,
            unit: unit.name,
            balance: Money::from_fen(a.balance_fen),
            protected: a.protected,
        });
    }
    Ok(out)
}

async fn create(db: &DatabaseConnection) -> anyhow::Result<store::ids::OrgId> {
    let hash = api::auth::password::hash_password(ADMIN_PASSWORD)?;
    let txn = db.begin().await?;
    let org = store::organization::create_organization(&txn, "示范物业 Demo Property").await?;
    let admin = store::user::create_user(
        &txn,
        store::user::NewUser {
            email: ADMIN_EMAIL.to_owned(),
            password_hash: hash,
            name: "演示管理员 Demo Admin".to_owned(),
            platform_admin: false,
        },
    )
    .await?;
    store::user::add_membership(&txn, org.id, admin.id, domain::Role::OrgAdmin).await?;
    let site = store::site::create(
        &txn,
        org.id,
        store::site::NewSite {
            address: "上海市浦东新区示范路 1 号".to_owned(),
            ..store::site::NewSite::named("阳光花园 Sunshine Garden")
        },
    )
    .await?;
    let building = store::building::create(&txn, org.id, site.id, "1号楼 Building 1").await?;
    let effective_from = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let definition = domain::TariffVersion::residential_example(effective_from, true);
    let tariff = store::tariff::create(&txn, org.id, "居民阶梯电价 Residential tiered").await?;
    store::tariff::add_version(
        &txn,
        org.id,
        tariff.id,
        effective_from,
        &serde_json::to_value(&definition)?,
    )
    .await?;
    for &(unit_name, tenant_name, phone, balance_fen, protected) in UNITS {
        let unit = store::unit::create(&txn, org.id, building.id, unit_name, store::UnitKind::Flat)
            .await?;
        let tenant = store::tenant::create(&txn, org.id, tenant_name, Some(phone)).await?;
        let account = store::account::open_in_txn(
            &txn,
            org.id,
            store::account::NewAccount {
                unit_id: unit.id,
                tenant_id: Some(tenant.id),
                tariff_id: Some(tariff.id),
                initial_balance: Money::from_fen(balance_fen),
                created_by: Some(admin.id),
            },
        )
        .await?;
        if protected {
            store::account::set_protection(
                &txn,
                org.id,
                account.id,
                true,
                Some("高龄独居 elderly tenant living alone".to_owned()),
                Some(admin.id),
            )
            .await?;
        }
    }
    txn.commit().await?;
    Ok(org.id)
}
