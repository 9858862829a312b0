use chrono::Utc;
use serde_json::{json, Value};

use crate::support::{spawn_apps, PASSWORD};

#[tokio::test]
async fn manager_signs_in_and_the_token_names_their_organization_and_role() {
    for app in spawn_apps().await {
        let res = app.login(&app.admin_a, PASSWORD).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        assert!(body["refresh_token"].as_str().unwrap().len() >= 40);

        let me: Value = app
            .client
            .get(app.url("/api/v1/me"))
            .bearer_auth(body["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["organization_id"], app.org_a.to_string());
        assert_eq!(me["role"], "org_admin");

        // The other organization's admin lands in the other organization.
        let token_b = app.access_token(&app.admin_b).await;
        let me_b: Value = app
            .client
            .get(app.url("/api/v1/me"))
            .bearer_auth(token_b)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me_b["organization_id"], app.org_b.to_string());
    }
}

#[tokio::test]
async fn email_is_case_insensitive() {
    for app in spawn_apps().await {
        let res = app.login("  Admin@A.Example ", PASSWORD).await;
        assert_eq!(res.status(), 200);
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_email_answer_the_same() {
    for app in spawn_apps().await {
        let wrong = app.login(&app.admin_a, "not the password").await;
        let unknown = app.login("nobody@a.example", PASSWORD).await;
        for res in [wrong, unknown] {
            assert_eq!(res.status(), 401);
            assert_eq!(
                res.headers()["content-type"].to_str().unwrap(),
                "application/problem+json"
            );
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["code"], "invalid_credentials");
            assert_eq!(body["detail"], "wrong email or password");
        }
    }
}

#[tokio::test]
async fn malformed_and_incomplete_bodies_are_rejected_with_stable_codes() {
    for app in spawn_apps().await {
        let cases = [
            ("{\"email\": \"admin@a.example\", ", "malformed_json"),
            ("{\"email\": \"admin@a.example\"}", "invalid_body"),
            ("{\"email\": 7, \"password\": \"x\"}", "invalid_body"),
        ];
        for (body, code) in cases {
            let res = app
                .client
                .post(app.url("/api/v1/auth/login"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 400, "{body}");
            let problem: Value = res.json().await.unwrap();
            assert_eq!(problem["code"], code, "{body}");
        }
        let res = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .body("email=a&password=b")
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "unsupported_media_type");
    }
}

#[tokio::test]
async fn missing_forged_expired_and_foreign_audience_tokens_are_refused() {
    for app in spawn_apps().await {
        let me = |token: Option<String>| {
            let mut req = app.client.get(app.url("/api/v1/me"));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send()
        };
        let res = me(None).await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(res.json::<Value>().await.unwrap()["code"], "missing_token");

        let good = app.access_token(&app.admin_a).await;
        // Flip one character of the signature.
        let mut forged = good.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        let res = me(Some(forged)).await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(res.json::<Value>().await.unwrap()["code"], "invalid_token");

        // A token signed with another secret.
        let other = api::auth::TokenKeys::new(&[7u8; 32], std::time::Duration::from_secs(60));
        let foreign = other
            .issue(
                uuid::Uuid::now_v7(),
                app.org_a.into(),
                domain::Role::OrgAdmin,
                Utc::now(),
            )
            .unwrap();
        let res = me(Some(foreign)).await.unwrap();
        assert_eq!(res.status(), 401);

        // Expired: issued two hours ago with the server's own secret.
        let secret = std::fs::read_to_string(app.data_dir().join("secrets/jwt_secret")).unwrap();
        let keys =
            api::auth::TokenKeys::new(secret.trim().as_bytes(), std::time::Duration::from_secs(60));
        let expired = keys
            .issue(
                uuid::Uuid::now_v7(),
                app.org_a.into(),
                domain::Role::OrgAdmin,
                Utc::now() - chrono::Duration::hours(2),
            )
            .unwrap();
        let res = me(Some(expired)).await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(res.json::<Value>().await.unwrap()["code"], "token_expired");

        // Same secret, but the audience of another kind of token.
        let claims = json!({
            "sub": uuid::Uuid::now_v7(), "org": app.org_a.to_string(), "role": "org_admin",
            "iss": "wattpay", "aud": "wattpay-tenant",
            "iat": Utc::now().timestamp(), "exp": Utc::now().timestamp() + 600,
        });
        let wrong_aud = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.trim().as_bytes()),
        )
        .unwrap();
        let res = me(Some(wrong_aud)).await.unwrap();
        assert_eq!(res.status(), 401);
    }
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    for app in spawn_apps().await {
        let first: Value = app
            .login(&app.admin_a, PASSWORD)
            .await
            .json()
            .await
            .unwrap();
        let r1 = first["refresh_token"].as_str().unwrap().to_owned();
        let refresh = |token: String| {
            app.client
                .post(app.url("/api/v1/auth/refresh"))
                .json(&json!({ "refresh_token": token }))
                .send()
        };
        let res = refresh(r1.clone()).await.unwrap();
        assert_eq!(res.status(), 200);
        let second: Value = res.json().await.unwrap();
        let r2 = second["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(r1, r2);

        // r1 was used already: presenting it again is treated as theft.
        let res = refresh(r1).await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(
            res.json::<Value>().await.unwrap()["code"],
            "invalid_refresh_token"
        );
        // ... and the whole family is gone, including the newest token.
        assert_eq!(refresh(r2).await.unwrap().status(), 401);

        // Logout revokes a fresh family.
        let third: Value = app
            .login(&app.admin_a, PASSWORD)
            .await
            .json()
            .await
            .unwrap();
        let r3 = third["refresh_token"].as_str().unwrap().to_owned();
        let res = app
            .client
            .post(app.url("/api/v1/auth/logout"))
            .json(&json!({ "refresh_token": r3 }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
        assert_eq!(refresh(r3).await.unwrap().status(), 401);
        assert_eq!(refresh("garbage".to_owned()).await.unwrap().status(), 401);
    }
}
