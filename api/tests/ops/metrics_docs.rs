//! `/metrics` counts requests by route pattern and shows business gauges; `/api/docs` is a
//! Swagger UI served entirely from the binary.

use crate::support::spawn_app_with;

async fn get(app: &crate::support::TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

/// The value of the sample line starting with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse().unwrap())
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_show_business_gauges() {
    for test_db in store::testing::backends().await {
        let app = spawn_app_with(test_db, |_| {}).await;
        let token = app.access_token(&app.admin_a).await;
        for _ in 0..3 {
            let res = app
                .client
                .get(app.url(&format!("/api/v1/accounts/{}", uuid::Uuid::new_v4())))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 404);
        }
        assert_eq!(get(&app, "/healthz").await.status(), 200);
        let res = get(&app, "/metrics").await;
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let text = res.text().await.unwrap();
        assert_eq!(
            sample(
                &text,
                r#"wattpay_http_requests_total{method="GET",route="/api/v1/accounts/{id}",status="404"}"#
            ),
            Some(3.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                r#"wattpay_http_request_duration_seconds_count{method="GET",route="/api/v1/accounts/{id}"}"#
            ),
            Some(3.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"wattpay_http_requests_total{method="GET",route="/healthz",status="200"}"#
            ),
            Some(1.0)
        );
        // Raw ids never become labels.
        assert!(!text.contains("/api/v1/accounts/0") && !text.contains("accounts/1"));
        // Business gauges: the two seeded organizations have one open account each.
        let accounts: f64 = text
            .lines()
            .filter(|l| l.starts_with("wattpay_accounts{state="))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum();
        assert!((accounts - 2.0).abs() < f64::EPSILON, "{text}");
        assert_eq!(sample(&text, "wattpay_accounts_protected "), Some(0.0));
        assert!(sample(&text, "wattpay_outbox_pending ").is_some(), "{text}");
    }
}

#[tokio::test]
async fn metrics_token_is_enforced_when_set() {
    let app = spawn_app_with(store::testing::TestDb::sqlite().await.unwrap(), |s| {
        s.metrics_token = Some("scrape-me".to_owned().into());
    })
    .await;
    assert_eq!(get(&app, "/metrics").await.status(), 401);
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn docs_page_is_served_from_the_binary() {
    let app = spawn_app_with(store::testing::TestDb::sqlite().await.unwrap(), |_| {}).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], "/api/docs/");

    let page = get(&app, "/api/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Offline: every script and stylesheet comes from this server, none from a CDN.
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "{html}"
    );
    let init = get(&app, "/api/docs/swagger-initializer.js").await;
    assert_eq!(init.status(), 200);
    assert!(init.text().await.unwrap().contains("/api/openapi.json"));
    let bundle = get(&app, "/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
}
