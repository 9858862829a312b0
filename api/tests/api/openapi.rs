//! `openapi/openapi.json` must be exactly what the code generates. Regenerate it with
//! `UPDATE_OPENAPI=1 cargo test -p api --test api openapi`.

#[test]
fn checked_in_openapi_matches_the_code() {
    let generated = api::openapi::document().unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "openapi/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test -p api --test api openapi` and commit it"
    );
}

#[tokio::test]
async fn served_document_lists_the_sign_in_endpoint() {
    let app = crate::support::spawn_app(store::testing::TestDb::sqlite().await.unwrap()).await;
    let doc: serde_json::Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/v1/auth/login"]["post"].is_object());
}
