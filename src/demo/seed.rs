//! The demo organization: a compound with a residential building (two RS485 buses of flats) and
//! a row of shops (a third bus), one gateway, tiered residential and commercial time-of-use
//! tariffs, a sandbox payment merchant, and prepaid accounts with varied balances — a few low
//! enough to reach the alarm and trip within the first minute, and one protected (保电).
//! Seeding is idempotent: a second start on the same data directory keeps what is there.

use chrono::{TimeZone as _, Utc};
use domain::Money;
use rust_decimal::Decimal;
use sea_orm::{DatabaseConnection, TransactionTrait as _};
use serde_json::json;
use store::ids::OrgId;

use super::{ADMIN_EMAIL, ADMIN_PASSWORD, GATEWAY_ID};

/// The three buses of the demo gateway; the last one feeds the shops.
pub const BUSES: [&str; 3] = ["rs485-1", "rs485-2", "rs485-3"];

/// What the demo tells its user about the seeded data.
pub struct Seeded {
    pub created: bool,
    pub org: OrgId,
    pub accounts: Vec<SeededAccount>,
}

pub struct SeededAccount {
    pub account_no: String,
    pub unit: String,
    pub balance: Money,
    pub protected: bool,
    pub meter: String,
}

/// A low-balance account seeded to show alarm, trip and protection in the first minute.
struct Special {
    bus: usize,
    /// Index among the bus's explicit-map meters (they have a relay read-back).
    explicit_index: u8,
    balance_fen: i64,
    protected: bool,
}

const SPECIALS: &[Special] = &[
    Special {
        bus: 0,
        explicit_index: 0,
        balance_fen: 3,
        protected: false,
    },
    Special {
        bus: 0,
        explicit_index: 1,
        balance_fen: 2_008,
        protected: false,
    },
    Special {
        bus: 0,
        explicit_index: 2,
        balance_fen: 2,
        protected: true,
    },
    Special {
        bus: 2,
        explicit_index: 0,
        balance_fen: 5,
        protected: false,
    },
];

const SURNAMES: &[&str] = &[
    "张", "王", "李", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟",
];

/// One meter of the demo layout, derived from its position only (so it is stable).
pub struct Layout {
    pub bus: usize,
    pub slave: u8,
    /// Acrel preset (first half of a bus) or the explicit example map (second half).
    pub acrel: bool,
}

/// Splits `meters` over the three buses; on each bus the first half are Acrel-preset meters
/// and the rest use the explicit map.
pub fn layout(meters: u16) -> Vec<Layout> {
    let meters = meters.clamp(3, 3 * 200);
    let mut out = Vec::new();
    for bus in 0..3u16 {
        let on_bus = meters / 3 + u16::from(bus < meters % 3);
        let acrel = on_bus / 2;
        for slave in 1..=on_bus {
            out.push(Layout {
                bus: usize::from(bus),
                slave: u8::try_from(slave).unwrap_or(u8::MAX),
                acrel: slave <= acrel,
            });
        }
    }
    out
}

pub fn wire_id(l: &Layout) -> String {
    format!("m-{}{:02}", l.bus + 1, l.slave)
}

pub async fn ensure(
    db: &DatabaseConnection,
    meters: u16,
    clients: &payments::Clients,
) -> anyhow::Result<Seeded> {
    if let Some(user) = store::user::find_user_by_email(db, ADMIN_EMAIL).await? {
        let memberships = store::user::memberships_of(db, user.id).await?;
        if let Some(m) = memberships.first() {
            return Ok(Seeded {
                created: false,
                org: m.organization_id,
                accounts: list_accounts(db, m.organization_id).await?,
            });
        }
    }
    let org = create(db, meters).await?;
    payments::merchant::create_merchant(
        db,
        clients,
        org,
        payments::merchant::MerchantRequest {
            name: "沙箱支付 Sandbox".to_owned(),
            provider: "sandbox".to_owned(),
            wechat: None,
            alipay: None,
            default_for: Some(json!("organization")),
        },
    )
    .await?;
    Ok(Seeded {
        created: true,
        org,
        accounts: list_accounts(db, org).await?,
    })
}

async fn list_accounts(db: &DatabaseConnection, org: OrgId) -> anyhow::Result<Vec<SeededAccount>> {
    let accounts = store::account::list(db, org, None, store::Page::new(1, 200))
        .await?
        .items;
    let meters = store::meter::list(db, org, None, store::Page::new(1, 200))
        .await?
        .items;
    let mut out = Vec::with_capacity(accounts.len());
    for a in accounts {
        let unit = store::unit::get(db, org, a.unit_id).await?;
        let meter = meters
            .iter()
            .find(|m| m.unit_id == Some(a.unit_id))
            .map(|m| m.wire_id.clone())
            .unwrap_or_default();
        out.push(SeededAccount {
            account_no: a.account_no,
            unit: unit.name,
            balance: Money::from_fen(a.balance_fen),
            protected: a.protected,
            meter,
        });
    }
    out.sort_by(|a, b| a.meter.cmp(&b.meter));
    Ok(out)
}

/// Opening balance and protection of the meter at `l`: special low ones, else ¥30–¥300.
fn opening(l: &Layout, explicit_index: Option<u8>, n: usize) -> (i64, bool) {
    if let Some(s) = SPECIALS
        .iter()
        .find(|s| s.bus == l.bus && Some(s.explicit_index) == explicit_index)
    {
        return (s.balance_fen, s.protected);
    }
    let spread = i64::try_from((n * 7_919) % 27_000).unwrap_or(0);
    (3_000 + spread, false)
}

async fn create(db: &DatabaseConnection, meters: u16) -> anyhow::Result<OrgId> {
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
    let flats = store::building::create(&txn, org.id, site.id, "1号楼 Building 1").await?;
    let shops = store::building::create(&txn, org.id, site.id, "商业街 Shops").await?;
    let from = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let residential =
        store::tariff::create(&txn, org.id, "居民阶梯分时电价 Residential tiered TOU").await?;
    store::tariff::add_version(
        &txn,
        org.id,
        residential.id,
        from,
        &serde_json::to_value(domain::TariffVersion::residential_example(from, true))?,
    )
    .await?;
    let commercial = store::tariff::create(&txn, org.id, "商业分时电价 Commercial TOU").await?;
    store::tariff::add_version(
        &txn,
        org.id,
        commercial.id,
        from,
        &serde_json::to_value(domain::TariffVersion::commercial_tou_example(from))?,
    )
    .await?;
    let gateway = store::gateway::create(
        &txn,
        org.id,
        store::gateway::NewGateway {
            site_id: site.id,
            gateway_id: GATEWAY_ID.to_owned(),
            name: "1号楼配电间 DTU".to_owned(),
            mqtt_password_hash: None,
        },
    )
    .await?;
    let explicit_map = serde_json::to_value(gateway_agent::simulator::explicit_map())?;

    let layout = layout(meters);
    let mut explicit_seen = [0u8; 3];
    for (n, l) in layout.iter().enumerate() {
        let explicit_index = (!l.acrel).then(|| {
            explicit_seen[l.bus] += 1;
            explicit_seen[l.bus] - 1
        });
        let shop = l.bus == 2;
        let unit_name = if shop {
            format!("商铺 S{}{:02}", l.bus + 1, l.slave)
        } else {
            format!("{}{:02}", l.bus + 1, l.slave)
        };
        let unit = store::unit::create(
            &txn,
            org.id,
            if shop { shops.id } else { flats.id },
            &unit_name,
            if shop {
                store::UnitKind::Shop
            } else {
                store::UnitKind::Flat
            },
        )
        .await?;
        let tenant_name = format!(
            "{}{}",
            SURNAMES[n % SURNAMES.len()],
            GIVEN[(n / SURNAMES.len() + n) % GIVEN.len()]
        );
        let phone = format!("139{:08}", 10_000_000 + n);
        let tenant = store::tenant::create(&txn, org.id, &tenant_name, Some(&phone)).await?;
        let (balance_fen, protected) = opening(l, explicit_index, n);
        let account = store::account::open_in_txn(
            &txn,
            org.id,
            store::account::NewAccount {
                unit_id: unit.id,
                tenant_id: Some(tenant.id),
                tariff_id: Some(if shop { commercial.id } else { residential.id }),
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
        store::meter::create(
            &txn,
            org.id,
            store::meter::NewMeter {
                gateway_id: gateway.id,
                unit_id: Some(unit.id),
                bus: BUSES[l.bus].to_owned(),
                slave: i32::from(l.slave),
                wire_id: wire_id(l),
                model: l.acrel.then(|| "acrel-ddsy1352".to_owned()),
                register_map: (!l.acrel).then(|| explicit_map.clone()),
                ct_ratio: Decimal::ONE,
                // Generous, so that `--speed` (which multiplies the load) never looks like
                // tampering to the rating's implausible-jump check.
                max_power_kw: Decimal::from(2_000),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(org.id)
}

/// Whether the meter at `l` belongs to a seeded low-balance account (it gets a heavy load so
/// the demo shows alarm and trip quickly).
pub fn is_special(l: &Layout, explicit_index: Option<u8>) -> bool {
    SPECIALS
        .iter()
        .any(|s| s.bus == l.bus && Some(s.explicit_index) == explicit_index)
}
