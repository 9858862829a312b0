//! Shared set-up: a database per backend with two organizations and a sandbox merchant.

use payments::merchant::{create_merchant, MerchantRequest};
use payments::{Clients, ProviderConfig, SecretBox};
use secrecy::SecretString;
use store::merchant::Merchant;
use store::testing::{SeededOrg, TestDb};

pub fn clients(config: ProviderConfig) -> Clients {
    let secrets = SecretBox::new(&SecretString::from("test-secret-key-".repeat(3))).unwrap();
    Clients::new(config, secrets).unwrap()
}

pub struct World {
    pub db: TestDb,
    pub clients: Clients,
    pub a: SeededOrg,
    pub b: SeededOrg,
    pub merchant: Merchant,
}

pub async fn sandbox_world(db: TestDb) -> World {
    let seeded = store::testing::seed_two_orgs(&db).await.unwrap();
    let clients = clients(ProviderConfig::default());
    let merchant = create_merchant(
        &db,
        &clients,
        seeded.a.org,
        MerchantRequest {
            name: "Sandbox".into(),
            provider: "sandbox".into(),
            wechat: None,
            alipay: None,
            default_for: Some(serde_json::json!("organization")),
        },
    )
    .await
    .unwrap();
    World {
        db,
        clients,
        a: seeded.a,
        b: seeded.b,
        merchant,
    }
}

pub async fn account_no(w: &World, org: &SeededOrg) -> String {
    store::account::get(w.db.conn(), org.org, org.account)
        .await
        .unwrap()
        .account_no
}

pub async fn balance_fen(w: &World, org: &SeededOrg) -> i64 {
    store::account::get(w.db.conn(), org.org, org.account)
        .await
        .unwrap()
        .balance_fen
}

pub async fn assert_ledger_balances(w: &World) {
    let mismatches = store::ledger::verify_balances(w.db.conn()).await.unwrap();
    assert!(mismatches.is_empty(), "{}: {mismatches:?}", w.db.backend());
}
