//! The EMQX HTTP hooks answer exactly EMQX 5's documented JSON, behind the shared secret.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{spawn_app_with, spawn_apps, TestApp};

const SECRET: &str = "hook-secret-for-tests-0123456789";

async fn spawn_with_hooks(test_db: store::testing::TestDb) -> TestApp {
    spawn_app_with(test_db, |s| {
        s.mqtt_hook_secret = Some(SECRET.to_owned().into());
        s.mqtt_password = Some("worker-password".to_owned().into());
    })
    .await
}

async fn hook(app: &TestApp, path: &str, secret: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = app.client.post(app.url(path)).json(body);
    if let Some(secret) = secret {
        req = req.header("x-wattpay-hook-secret", secret);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if status == 200 {
        assert_eq!(ct, "application/json", "EMQX needs application/json");
    }
    (status, body)
}

async fn new_gateway(app: &TestApp, token: &str, site: uuid::Uuid, id: &str) -> String {
    let created = app
        .expect(
            Method::POST,
            "/api/v1/gateways",
            token,
            Some(&json!({"site_id": site, "gateway_id": id, "name": id})),
            201,
        )
        .await;
    created["mqtt_password"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn emqx_authentication_hook_allows_own_password_only() {
    for test_db in store::testing::backends().await {
        let app = spawn_with_hooks(test_db).await;
        let token = app.access_token(&app.admin_a).await;
        let site: uuid::Uuid = app.seeded.a.site.into();
        let password = new_gateway(&app, &token, site, "gw-hook1").await;

        let auth = |u: &str, p: &str| json!({"username": u, "password": p, "clientid": "c1"});
        let (s, body) = hook(
            &app,
            "/api/v1/mqtt/auth",
            Some(SECRET),
            &auth("gw-hook1", &password),
        )
        .await;
        assert_eq!(
            (s, body),
            (200, json!({"result": "allow", "is_superuser": false}))
        );
        let (s, body) = hook(
            &app,
            "/api/v1/mqtt/auth",
            Some(SECRET),
            &auth("gw-hook1", "wrong"),
        )
        .await;
        assert_eq!(
            (s, body),
            (200, json!({"result": "deny", "is_superuser": false}))
        );
        let (_, body) = hook(
            &app,
            "/api/v1/mqtt/auth",
            Some(SECRET),
            &auth("gw-nobody", &password),
        )
        .await;
        assert_eq!(body["result"], "ignore");
        let (_, body) = hook(
            &app,
            "/api/v1/mqtt/auth",
            Some(SECRET),
            &auth("wattpay-worker", "worker-password"),
        )
        .await;
        assert_eq!(body["result"], "allow");
        let (_, body) = hook(
            &app,
            "/api/v1/mqtt/auth",
            Some(SECRET),
            &auth("wattpay-worker", "x"),
        )
        .await;
        assert_eq!(body["result"], "deny");

        // Without the shared secret, nothing is answered (EMQX reads 4xx as `ignore`).
        let (s, body) = hook(
            &app,
            "/api/v1/mqtt/auth",
            None,
            &auth("gw-hook1", &password),
        )
        .await;
        assert_eq!(s, 401);
        assert_eq!(body["code"], "invalid_hook_secret");
        let (s, _) = hook(
            &app,
            "/api/v1/mqtt/auth",
            Some("wrong"),
            &auth("gw-hook1", &password),
        )
        .await;
        assert_eq!(s, 401);
    }
}

#[tokio::test]
async fn emqx_authorization_hook_confines_gateways_to_their_topics() {
    for test_db in store::testing::backends().await {
        let app = spawn_with_hooks(test_db).await;
        let token = app.access_token(&app.admin_a).await;
        let site: uuid::Uuid = app.seeded.a.site.into();
        new_gateway(&app, &token, site, "gw-acl1").await;
        let cases = [
            (
                "gw-acl1",
                "wattpay/v1/gw/gw-acl1/up/readings",
                "publish",
                "allow",
            ),
            (
                "gw-acl1",
                "wattpay/v1/gw/gw-acl2/up/readings",
                "publish",
                "deny",
            ),
            (
                "gw-acl1",
                "wattpay/v1/gw/gw-acl1/down/#",
                "subscribe",
                "allow",
            ),
            (
                "gw-acl1",
                "wattpay/v1/gw/gw-acl2/down/#",
                "subscribe",
                "deny",
            ),
            ("gw-acl1", "wattpay/v1/gw/+/down/#", "subscribe", "deny"),
            (
                "gw-acl1",
                "wattpay/v1/gw/gw-acl1/up/readings",
                "retrieve",
                "deny",
            ),
            // Not (or no longer) a gateway: nothing.
            (
                "gw-gone",
                "wattpay/v1/gw/gw-gone/up/readings",
                "publish",
                "deny",
            ),
            (
                "wattpay-worker",
                "$share/wattpay-workers/wattpay/v1/gw/+/up/#",
                "subscribe",
                "allow",
            ),
            (
                "wattpay-worker",
                "wattpay/v1/gw/gw-acl1/down/commands",
                "publish",
                "allow",
            ),
            (
                "wattpay-worker",
                "wattpay/v1/gw/gw-acl1/up/readings",
                "publish",
                "deny",
            ),
        ];
        for (username, topic, action, want) in cases {
            let (s, body) = hook(
                &app,
                "/api/v1/mqtt/acl",
                Some(SECRET),
                &json!({"username": username, "topic": topic, "action": action, "clientid": "c"}),
            )
            .await;
            assert_eq!(
                (s, body),
                (200, json!({"result": want})),
                "{username} {action} {topic}"
            );
        }
    }
}

#[tokio::test]
async fn hooks_do_not_exist_without_a_secret() {
    let app = spawn_app_with(store::testing::TestDb::sqlite().await.unwrap(), |_| {}).await;
    let (s, _) = hook(
        &app,
        "/api/v1/mqtt/auth",
        Some(""),
        &json!({"username": "gw-x", "password": "", "clientid": "c"}),
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn passwd_export_is_per_organization_and_admin_only() {
    for app in spawn_apps().await {
        let token_a = app.access_token(&app.admin_a).await;
        let token_b = app.access_token(&app.admin_b).await;
        let site_a: uuid::Uuid = app.seeded.a.site.into();
        let site_b: uuid::Uuid = app.seeded.b.site.into();
        new_gateway(&app, &token_a, site_a, "gw-expa").await;
        new_gateway(&app, &token_b, site_b, "gw-expb").await;

        let export = |token: String| {
            let app = &app;
            async move {
                let res = app
                    .call(
                        Method::GET,
                        "/api/v1/gateways/export/mosquitto-passwd",
                        &token,
                        None,
                    )
                    .await;
                assert_eq!(res.status(), 200);
                res.text().await.unwrap()
            }
        };
        let a = export(token_a.clone()).await;
        assert!(a.starts_with("gw-expa:$7$"), "{a}");
        assert!(
            !a.contains("gw-expb"),
            "organization A sees only its gateways: {a}"
        );
        let b = export(token_b).await;
        assert!(b.contains("gw-expb:$7$") && !b.contains("gw-expa"));

        let viewer = app.token_for_role(app.org_a, domain::Role::Viewer).await;
        app.expect(
            Method::GET,
            "/api/v1/gateways/export/mosquitto-passwd",
            &viewer,
            None,
            403,
        )
        .await;
        app.expect(
            Method::GET,
            "/api/v1/platform/mosquitto-passwd",
            &token_a,
            None,
            403,
        )
        .await;
        let platform = app
            .token_for_role(app.org_a, domain::Role::PlatformAdmin)
            .await;
        let res = app
            .call(
                Method::GET,
                "/api/v1/platform/mosquitto-passwd",
                &platform,
                None,
            )
            .await;
        assert_eq!(res.status(), 200);
        let all = res.text().await.unwrap();
        assert!(
            all.contains("gw-expa:$7$") && all.contains("gw-expb:$7$"),
            "{all}"
        );

        let acl = app
            .call(
                Method::GET,
                "/api/v1/gateways/export/mosquitto-acl",
                &token_a,
                None,
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(acl.contains("pattern write wattpay/v1/gw/%u/up/#"), "{acl}");
    }
}
