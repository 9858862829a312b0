//! `spawn_app_with`: the API on port 0 over a fresh database with two seeded organizations and
//! an admin in each, with settings a test adjusts (hook secret, metrics token, ...).

use api::Settings;
use reqwest::Method;
use sea_orm::DatabaseConnection;
use store::ids::OrgId;
use store::testing::TestDb;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub org_a: OrgId,
    pub admin_a: String,
    pub admin_b: String,
    pub db: DatabaseConnection,
    pub seeded: store::testing::TwoOrgs,
    _test_db: TestDb,
    _data_dir: tempfile::TempDir,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn access_token(&self, email: &str) -> String {
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

    /// A new user with `role` in `org`, signed in: their access token.
    pub async fn token_for_role(&self, org: OrgId, role: domain::Role) -> String {
        let email = format!(
            "{}-{}@example.test",
            role.as_str(),
            uuid::Uuid::new_v4().simple()
        );
        add_user(&self.db, org, &email, role).await;
        self.access_token(&email).await
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.unwrap()
    }

    /// `call` expecting `status`, answering the JSON body (`null` when not JSON).
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&serde_json::Value>,
        status: u16,
    ) -> serde_json::Value {
        let res = self.call(method.clone(), path, token, body).await;
        let got = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(got, status, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }
}

pub async fn add_user(db: &DatabaseConnection, org: OrgId, email: &str, role: domain::Role) {
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
    store::user::add_membership(db, org, user.id, role)
        .await
        .unwrap();
}

/// One app per backend, default settings.
pub async fn spawn_apps() -> Vec<TestApp> {
    let mut apps = Vec::new();
    for test_db in store::testing::backends().await {
        apps.push(spawn_app_with(test_db, |_| {}).await);
    }
    apps
}

pub async fn spawn_app_with(test_db: TestDb, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let db = test_db.conn().clone();
    let seeded = store::testing::seed_two_orgs(&db).await.unwrap();
    let (org_a, org_b) = (seeded.a.org, seeded.b.org);
    add_user(&db, org_a, "admin@a.example", domain::Role::OrgAdmin).await;
    add_user(&db, org_b, "admin@b.example", domain::Role::OrgAdmin).await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        http_addr: "127.0.0.1:0".to_owned(),
        data_dir: data_dir.path().to_owned(),
        ..Settings::default()
    };
    adjust(&mut settings);
    let app = api::Application::build(settings, db.clone()).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        client: reqwest::Client::new(),
        org_a,
        admin_a: "admin@a.example".to_owned(),
        admin_b: "admin@b.example".to_owned(),
        db,
        seeded,
        _test_db: test_db,
        _data_dir: data_dir,
    }
}
