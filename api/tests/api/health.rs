use crate::support::spawn_apps;

#[tokio::test]
async fn probes_answer_ok_on_a_current_schema() {
    for app in spawn_apps().await {
        for path in ["/healthz", "/readyz"] {
            let res = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["status"], "ok");
        }
    }
}

#[tokio::test]
async fn unknown_route_is_a_problem_document() {
    for app in spawn_apps().await {
        let res = app
            .client
            .get(app.url("/api/v1/nope"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "application/problem+json"
        );
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], "route_not_found");
        assert_eq!(body["status"], 404);
    }
}
