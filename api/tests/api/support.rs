//! `spawn_app`: the API on port 0 over a fresh database, with two organizations and a manager in
//! each, so every test can check that organization B never sees A.

use api::Settings;
use sea_orm::DatabaseConnection;
use store::ids::OrgId;
use store::testing::TestDb;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub org_a: OrgId,
    pub org_b: OrgId,
    pub admin_a: String,
    pub admin_b: String,
    // Keeps the database (and its temp dir) alive for the test.
    _test_db: TestDb,
    data_dir_guard: tempfile::TempDir,
}

impl TestApp {
    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir_guard.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Signs in and returns the JSON answer.
    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    pub async fn access_token(&self, email: &str) -> String {
        let res = self.login(email, PASSWORD).await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }
}

async fn add_admin(db: &DatabaseConnection, org: OrgId, email: &str) {
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

/// One app per backend.
pub async fn spawn_apps() -> Vec<TestApp> {
    let mut apps = Vec::new();
    for test_db in store::testing::backends().await {
        apps.push(spawn_app(test_db).await);
    }
    apps
}

pub async fn spawn_app(test_db: TestDb) -> TestApp {
    let db = test_db.conn().clone();
    let seeded = store::testing::seed_two_orgs(&db).await.unwrap();
    let (org_a, org_b) = (seeded.a.org, seeded.b.org);
    add_admin(&db, org_a, "admin@a.example").await;
    add_admin(&db, org_b, "admin@b.example").await;
    let data_dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        http_addr: "127.0.0.1:0".to_owned(),
        data_dir: data_dir.path().to_owned(),
        ..Settings::default()
    };
    let app = api::Application::build(settings, db.clone()).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        client: reqwest::Client::new(),
        org_a,
        org_b,
        admin_a: "admin@a.example".to_owned(),
        admin_b: "admin@b.example".to_owned(),
        _test_db: test_db,
        data_dir_guard: data_dir,
    }
}
