//! `spawn_web`: the API (with its pages) on port 0 over a fresh database holding two seeded
//! organizations, each with a manager who can sign in, and a browser-like client that keeps
//! cookies.

use api::Settings;
use sea_orm::DatabaseConnection;
use store::testing::{TestDb, TwoOrgs};

pub const PASSWORD: &str = "correct horse battery";
pub const MANAGER_A: &str = "manager@a.example";
pub const MANAGER_B: &str = "manager@b.example";

pub struct WebApp {
    pub base: String,
    pub db: DatabaseConnection,
    pub seeded: TwoOrgs,
    pub backend: &'static str,
    /// The server's live cache: what the worker would announce after a balance change.
    pub live: store::live::LiveCache,
    _test_db: TestDb,
    data_dir: tempfile::TempDir,
}

impl WebApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A client that keeps cookies and does not follow redirects (tests look at them).
    #[allow(clippy::unused_self)] // reads as "a browser for this app" at the call sites
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub async fn get(&self, client: &reqwest::Client, path: &str) -> (u16, String) {
        let res = client.get(self.url(path)).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    pub async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        client.post(self.url(path)).form(form).send().await.unwrap()
    }

    /// A signed-in client of `email`.
    pub async fn signed_in(&self, email: &str) -> reqwest::Client {
        let client = self.client();
        let (_, html) = self.get(&client, "/login").await;
        let csrf = csrf_of(&html);
        let res = self
            .post(
                &client,
                "/login",
                &[
                    ("csrf", &csrf),
                    ("email", email),
                    ("password", PASSWORD),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{} sign-in", self.backend);
        client
    }

    /// Gives organization A a sandbox merchant, its default, as the demo has; sealed with the
    /// server's own secret key (the one it generated in the data directory).
    pub async fn add_sandbox_merchant(&self) {
        let settings = Settings {
            data_dir: self.data_dir.path().to_owned(),
            ..Settings::default()
        };
        let pay = api::pay::PayState::new(&settings, 0).unwrap();
        payments::merchant::create_merchant(
            &self.db,
            &pay.clients,
            self.seeded.a.org,
            payments::merchant::MerchantRequest {
                name: "Sandbox".to_owned(),
                provider: "sandbox".to_owned(),
                wechat: None,
                alipay: None,
                default_for: Some(serde_json::json!("organization")),
            },
        )
        .await
        .unwrap();
    }

    /// Provider clients sealing merchant secrets with the server's own key, as the server
    /// builds them.
    pub fn pay_clients(&self) -> payments::Clients {
        let settings = Settings {
            data_dir: self.data_dir.path().to_owned(),
            ..Settings::default()
        };
        api::pay::PayState::new(&settings, 0).unwrap().clients
    }

    /// Announces organization A's account as the database has it now, as the worker does after
    /// every balance or power change.
    pub async fn announce_a(&self) {
        let a = store::account::get(&self.db, self.seeded.a.org, self.seeded.a.account)
            .await
            .unwrap();
        self.live
            .put(&store::live::LiveSnapshot {
                account_id: a.id,
                organization_id: a.organization_id,
                balance: a.balance(),
                cc_state: a.cc_state.clone(),
                relay: None,
                last_reading_at: None,
                today_kwh: domain::Energy::ZERO,
                today_cost: domain::Money::ZERO,
                updated_at: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }

    /// The code of the newest SMS to `phone` in the server's outbox, as the tenant reads it.
    pub fn sms_code(&self, phone: &str) -> String {
        let dir = self.data_dir.path().join("outbox/sms");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        let sms = names
            .iter()
            .rev()
            .map(|p| {
                serde_json::from_slice::<store::notifier::SmsFile>(&std::fs::read(p).unwrap())
                    .unwrap()
            })
            .find(|m| m.to == phone)
            .expect("an SMS to the phone");
        let start = sms.text.find(|c: char| c.is_ascii_digit()).unwrap();
        sms.text[start..start + 6].to_owned()
    }

    /// The number of SMS messages in the outbox.
    pub fn sms_count(&self) -> usize {
        std::fs::read_dir(self.data_dir.path().join("outbox/sms")).map_or(0, Iterator::count)
    }

    /// The account number of organization A's seeded account.
    pub async fn account_no_a(&self) -> String {
        store::account::get(&self.db, self.seeded.a.org, self.seeded.a.account)
            .await
            .unwrap()
            .account_no
    }
}

/// The CSRF token a page's forms carry.
pub fn csrf_of(html: &str) -> String {
    hidden(html, "csrf")
}

/// The value of the first hidden input named `name`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

async fn add_manager(db: &DatabaseConnection, org: store::OrgId, email: &str) {
    let user = store::user::create_user(
        db,
        store::user::NewUser {
            email: email.to_owned(),
            password_hash: api::auth::password::hash_password(PASSWORD).unwrap(),
            name: "Manager".to_owned(),
            platform_admin: false,
        },
    )
    .await
    .unwrap();
    store::user::add_membership(db, org, user.id, domain::Role::Operator)
        .await
        .unwrap();
}

/// One app per backend.
pub async fn spawn_webs() -> Vec<WebApp> {
    let mut apps = Vec::new();
    for test_db in store::testing::backends().await {
        apps.push(spawn_web(test_db).await);
    }
    apps
}

pub async fn spawn_web(test_db: TestDb) -> WebApp {
    spawn_web_with(test_db, |_| {}).await
}

/// [`spawn_web`] with settings changed by `tweak` (provider hosts pointed at local fakes).
pub async fn spawn_web_with(test_db: TestDb, tweak: impl FnOnce(&mut Settings)) -> WebApp {
    let db = test_db.conn().clone();
    let seeded = store::testing::seed_two_orgs(&db).await.unwrap();
    add_manager(&db, seeded.a.org, MANAGER_A).await;
    add_manager(&db, seeded.b.org, MANAGER_B).await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        http_addr: "127.0.0.1:0".to_owned(),
        data_dir: data_dir.path().to_owned(),
        public_base_url: "http://pay.example.com".to_owned(),
        ..Settings::default()
    };
    tweak(&mut settings);
    let services = api::startup::Services::embedded(&settings);
    let live = services.live.clone();
    let app = api::Application::build_with(settings, db.clone(), services).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    WebApp {
        base,
        db,
        seeded,
        backend: test_db.backend(),
        live,
        _test_db: test_db,
        data_dir,
    }
}
