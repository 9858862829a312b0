//! `spawn_pay_app`: the API on port 0 over a fresh database with two organizations, an org
//! admin in each (`admin@a.example`, `admin@b.example`), and helpers for payment tests.

use api::Settings;
use sea_orm::DatabaseConnection;
use store::testing::{SeededOrg, TestDb};

pub const PASSWORD: &str = "correct horse battery";

pub struct PayApp {
    pub base: String,
    pub client: reqwest::Client,
    pub a: SeededOrg,
    pub b: SeededOrg,
    pub db: DatabaseConnection,
    pub test_db: TestDb,
    pub data_dir: tempfile::TempDir,
}

impl PayApp {
    /// Payment clients that open the merchant secrets this app sealed (its generated key).
    pub fn clients(&self) -> payments::Clients {
        let key = api::startup::load_or_create_secret(self.data_dir.path(), "secret_key").unwrap();
        let secrets = payments::SecretBox::new(&key).unwrap();
        payments::Clients::new(payments::ProviderConfig::default(), secrets).unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn token(&self, email: &str) -> String {
        let res = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn account_no(&self, org: &SeededOrg) -> String {
        store::account::get(&self.db, org.org, org.account)
            .await
            .unwrap()
            .account_no
    }

    pub async fn balance_fen(&self, org: &SeededOrg) -> i64 {
        store::account::get(&self.db, org.org, org.account)
            .await
            .unwrap()
            .balance_fen
    }

    /// Creates a merchant as org A's admin and answers its JSON.
    pub async fn create_merchant(&self, body: serde_json::Value) -> serde_json::Value {
        let token = self.token("admin@a.example").await;
        let res = self
            .client
            .post(self.url("/api/v1/merchants"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let json: serde_json::Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{json}");
        json
    }
}

async fn add_admin(db: &DatabaseConnection, org: store::OrgId, email: &str) {
    let user = store::user::create_user(
        db,
        store::user::NewUser {
            email: email.to_owned(),
            password_hash: api::auth::password::hash_password(PASSWORD).unwrap(),
            name: "Admin".to_owned(),
            platform_admin: false,
        },
    )
    .await
    .unwrap();
    store::user::add_membership(db, org, user.id, domain::Role::OrgAdmin)
        .await
        .unwrap();
}

pub async fn spawn_pay_app(test_db: TestDb, tweak: impl FnOnce(&mut Settings)) -> PayApp {
    let db = test_db.conn().clone();
    let seeded = store::testing::seed_two_orgs(&db).await.unwrap();
    add_admin(&db, seeded.a.org, "admin@a.example").await;
    add_admin(&db, seeded.b.org, "admin@b.example").await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        http_addr: "127.0.0.1:0".to_owned(),
        data_dir: data_dir.path().to_owned(),
        ..Settings::default()
    };
    tweak(&mut settings);
    let app = api::Application::build(settings, db.clone()).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    PayApp {
        base,
        client: reqwest::Client::new(),
        a: seeded.a,
        b: seeded.b,
        db,
        test_db,
        data_dir,
    }
}
