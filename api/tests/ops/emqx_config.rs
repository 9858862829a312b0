//! `deploy/kubernetes/emqx.yaml` drives the hooks: the test reads EMQX's authenticator and
//! authorizer from the manifest, fills their body templates the way EMQX does (placeholders
//! `${username}`, ...) and sends what EMQX would send, checking the documented answers.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::support::{spawn_app_with, TestApp};

const SECRET: &str = "emqx-hook-secret-for-tests-0123";

/// The `value` of each env var of the emqx container, in order.
fn emqx_env() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes/emqx.yaml"),
    )
    .unwrap();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let doc: serde_norway::Value = serde::Deserialize::deserialize(doc).unwrap();
        if doc["kind"] != "StatefulSet" {
            continue;
        }
        let container = &doc["spec"]["template"]["spec"]["containers"][0];
        return container["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| {
                let name = e["name"].as_str().unwrap().to_owned();
                let value = e["value"].as_str().unwrap_or_default().to_owned();
                (name, value)
            })
            .collect();
    }
    panic!("no StatefulSet in emqx.yaml");
}

/// The inside of `key { ... }` in a HOCON source (braces inside quotes do not count).
fn block<'a>(hocon: &'a str, key: &str) -> &'a str {
    let start = hocon.find(&format!("{key} {{")).unwrap() + key.len() + 2;
    let mut in_quotes = false;
    for (i, c) in hocon[start..].char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return &hocon[start..start + i],
            _ => {}
        }
    }
    panic!("unterminated {key} block");
}

/// `a = "x", "b" = "y"` → {a: x, b: y}.
fn pairs(block: &str) -> BTreeMap<String, String> {
    block
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (
                k.trim().trim_matches('"').to_owned(),
                v.trim().trim_matches('"').to_owned(),
            )
        })
        .collect()
}

fn quoted_after<'a>(hocon: &'a str, key: &str) -> &'a str {
    let start = hocon.find(&format!("{key} = \"")).unwrap() + key.len() + 4;
    &hocon[start..start + hocon[start..].find('"').unwrap()]
}

/// Sends what EMQX sends for `source` (an authenticator or authorizer from the manifest).
async fn as_emqx(app: &TestApp, source: &str, vars: &[(&str, &str)]) -> (u16, Value) {
    let url = quoted_after(source, "url");
    let path = url.strip_prefix("http://wattpay-api").unwrap();
    let fill = |template: &str| {
        let mut out = template.replace("$(WATTPAY_MQTT_HOOK_SECRET)", SECRET);
        for (name, value) in vars {
            out = out.replace(&format!("${{{name}}}"), value);
        }
        out
    };
    let body: BTreeMap<String, String> = pairs(block(source, "body"))
        .into_iter()
        .map(|(k, v)| (k, fill(&v)))
        .collect();
    let mut req = app.client.post(app.url(path)).json(&body);
    for (k, v) in pairs(block(source, "headers")) {
        req = req.header(k, fill(&v));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    assert_eq!(res.headers()["content-type"], "application/json");
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn the_emqx_manifest_talks_to_the_hooks() {
    let env = emqx_env();
    let get = |name: &str| {
        env.iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| panic!("{name} missing"), |(_, v)| v.clone())
    };
    let secret_at = env
        .iter()
        .position(|(n, _)| n == "WATTPAY_MQTT_HOOK_SECRET");
    let authenticator_at = env.iter().position(|(n, _)| n == "EMQX_AUTHENTICATION");
    assert!(
        secret_at < authenticator_at,
        "Kubernetes expands $(VAR) only from earlier variables"
    );
    assert_eq!(get("EMQX_AUTHORIZATION__NO_MATCH"), "deny");
    let authenticator = get("EMQX_AUTHENTICATION");
    let authorizer = get("EMQX_AUTHORIZATION__SOURCES");
    assert!(
        authenticator.contains("backend = http")
            && authenticator.contains("mechanism = password_based")
    );
    assert!(authorizer.contains("type = http"));

    let app = spawn_app_with(store::testing::TestDb::sqlite().await.unwrap(), |s| {
        s.mqtt_hook_secret = Some(SECRET.to_owned().into());
    })
    .await;
    let token = app.access_token(&app.admin_a).await;
    let site: uuid::Uuid = app.seeded.a.site.into();
    let created = app
        .expect(
            reqwest::Method::POST,
            "/api/v1/gateways",
            &token,
            Some(&json!({"site_id": site, "gateway_id": "gw-emqx1", "name": "x"})),
            201,
        )
        .await;
    let password = created["mqtt_password"].as_str().unwrap();

    let client = |user: &'static str, password: &'static str| {
        vec![
            ("username", user),
            ("password", password),
            ("clientid", "box-1"),
        ]
    };
    let password: &'static str = Box::leak(password.to_owned().into_boxed_str());
    assert_eq!(
        as_emqx(&app, &authenticator, &client("gw-emqx1", password)).await,
        (200, json!({"result": "allow", "is_superuser": false}))
    );
    assert_eq!(
        as_emqx(&app, &authenticator, &client("gw-emqx1", "guess"))
            .await
            .1["result"],
        "deny"
    );
    let acl = |topic: &'static str, action: &'static str| {
        vec![
            ("username", "gw-emqx1"),
            ("clientid", "box-1"),
            ("topic", topic),
            ("action", action),
        ]
    };
    assert_eq!(
        as_emqx(
            &app,
            &authorizer,
            &acl("wattpay/v1/gw/gw-emqx1/up/readings", "publish")
        )
        .await,
        (200, json!({"result": "allow"}))
    );
    assert_eq!(
        as_emqx(
            &app,
            &authorizer,
            &acl("wattpay/v1/gw/gw-other/down/#", "subscribe")
        )
        .await,
        (200, json!({"result": "deny"}))
    );
}
