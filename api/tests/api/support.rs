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
    pub db: DatabaseConnection,
    pub seeded: store::testing::TwoOrgs,
    /// The live cache the app reads (the worker's role in these tests is played by `put`).
    pub live: store::live::LiveCache,
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

impl TestApp {
    /// A user with `role` in `org`, signed in: their access token.
    pub async fn token_for_role(&self, org: OrgId, role: domain::Role) -> String {
        let email = format!(
            "{}-{}@example.test",
            role.as_str(),
            uuid::Uuid::new_v4().simple()
        );
        add_user(&self.db, org, &email, role).await;
        self.access_token(&email).await
    }

    /// Sends a request with a bearer token and an optional JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
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

    /// `call` expecting `status`, answering the JSON body (`null` when empty).
    pub async fn expect(
        &self,
        method: reqwest::Method,
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

async fn add_admin(db: &DatabaseConnection, org: OrgId, email: &str) {
    add_user(db, org, email, domain::Role::OrgAdmin).await;
}

/// Adds a user with `role` in `org` and the test password.
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
    let live = store::live::LiveCache::in_process();
    let services = api::startup::Services {
        live: live.clone(),
        ..api::startup::Services::embedded(&settings)
    };
    let app = api::Application::build_with(settings, db.clone(), services).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        client: reqwest::Client::new(),
        org_a,
        org_b,
        admin_a: "admin@a.example".to_owned(),
        admin_b: "admin@b.example".to_owned(),
        db: db.clone(),
        seeded,
        live,
        _test_db: test_db,
        data_dir_guard: data_dir,
    }
}

impl TestApp {
    /// The codes sent to `phone` so far, oldest first (the embedded notifier's files).
    pub fn sms_codes(&self, phone: &str) -> Vec<String> {
        let dir = self.data_dir().join("outbox").join("sms");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        files
            .into_iter()
            .filter_map(|p| {
                let sms: store::notifier::SmsFile =
                    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
                (sms.to == phone).then(|| {
                    let digits: String = sms
                        .text
                        .split(|c: char| !c.is_ascii_digit())
                        .find(|w| w.len() == 6)
                        .unwrap()
                        .to_owned();
                    digits
                })
            })
            .collect()
    }

    /// Asks for a code, answering the HTTP status.
    pub async fn request_otp(&self, phone: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/tenant/auth/otp"))
            .json(&serde_json::json!({ "phone": phone }))
            .send()
            .await
            .unwrap()
    }

    pub async fn verify_otp(&self, phone: &str, code: &str, consent: bool) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/tenant/auth/verify"))
            .json(&serde_json::json!({ "phone": phone, "code": code, "consent": consent }))
            .send()
            .await
            .unwrap()
    }

    /// Signs a tenant in by phone (with consent): their access token.
    pub async fn tenant_token(&self, phone: &str) -> String {
        assert_eq!(self.request_otp(phone).await.status(), 202);
        let code = self.sms_codes(phone).pop().expect("a code was sent");
        let res = self.verify_otp(phone, &code, true).await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }
}
