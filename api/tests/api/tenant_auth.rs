//! Tenant sign-in by one-time code: nothing revealed about unknown phones, codes single-use,
//! limited in guesses and time, consent recorded, rate limits answered with `Retry-After`.

use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;

use crate::support::spawn_apps;

const PHONE: &str = "13800000000";

fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

#[tokio::test]
async fn codes_reveal_nothing_are_single_use_and_need_consent_once() {
    for app in spawn_apps().await {
        let unknown = app.request_otp("13999999999").await;
        assert_eq!(unknown.status(), 202);
        let unknown: Value = unknown.json().await.unwrap();
        let known = app.request_otp(PHONE).await;
        assert_eq!(known.status(), 202);
        let known: Value = known.json().await.unwrap();
        assert_eq!(unknown, known, "the answer must not depend on the phone");
        assert!(app.sms_codes("13999999999").is_empty());
        let code = app.sms_codes(PHONE).pop().unwrap();

        let res = app.verify_otp(PHONE, &wrong(&code), true).await;
        assert_eq!(res.status(), 401);
        assert_eq!(res.json::<Value>().await.unwrap()["code"], "invalid_code");
        let res = app.verify_otp("13999999999", &code, true).await;
        assert_eq!(res.status(), 401);

        let res = app.verify_otp(PHONE, &code, false).await;
        assert_eq!(res.status(), 422);
        assert_eq!(
            res.json::<Value>().await.unwrap()["code"],
            "consent_required"
        );
        assert!(store::tenant_login::consent_of(&app.db, PHONE)
            .await
            .unwrap()
            .is_none());

        let res = app.verify_otp(PHONE, &code, true).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        let consent = store::tenant_login::consent_of(&app.db, PHONE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(consent.notice_version, api::auth::otp::NOTICE_VERSION);

        // Used once only.
        let res = app.verify_otp(PHONE, &code, true).await;
        assert_eq!(res.status(), 401);

        // The next sign-in needs no consent again.
        app.request_otp(PHONE).await;
        let code = app.sms_codes(PHONE).pop().unwrap();
        assert_eq!(app.verify_otp(PHONE, &code, false).await.status(), 200);
    }
}

#[tokio::test]
async fn a_code_dies_after_five_wrong_guesses_or_when_expired() {
    for app in spawn_apps().await {
        app.request_otp(PHONE).await;
        let code = app.sms_codes(PHONE).pop().unwrap();
        for _ in 0..5 {
            let res = app.verify_otp(PHONE, &wrong(&code), true).await;
            assert_eq!(res.status(), 401);
        }
        assert_eq!(app.verify_otp(PHONE, &code, true).await.status(), 401);

        app.request_otp(PHONE).await;
        let code = app.sms_codes(PHONE).pop().unwrap();
        let past = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
        let sql = match app.db.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                format!("UPDATE tenant_otps SET expires_at = '{past}'::timestamptz")
            }
            _ => format!("UPDATE tenant_otps SET expires_at = '{past}'"),
        };
        app.db
            .execute(Statement::from_string(app.db.get_database_backend(), sql))
            .await
            .unwrap();
        assert_eq!(app.verify_otp(PHONE, &code, true).await.status(), 401);
    }
}

#[tokio::test]
async fn sending_codes_and_failed_logins_are_rate_limited() {
    for app in spawn_apps().await {
        for _ in 0..5 {
            assert_eq!(app.request_otp("13911112222").await.status(), 202);
        }
        let res = app.request_otp("13911112222").await;
        assert_eq!(res.status(), 429);
        let retry: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry >= 1);
        assert_eq!(res.json::<Value>().await.unwrap()["code"], "rate_limited");
        // Another phone is not affected.
        assert_eq!(app.request_otp(PHONE).await.status(), 202);

        for _ in 0..10 {
            assert_eq!(app.login(&app.admin_a, "wrong").await.status(), 401);
        }
        // Now even the right password waits: the guesser cannot tell it was right.
        let res = app.login(&app.admin_a, crate::support::PASSWORD).await;
        assert_eq!(res.status(), 429);
        assert!(res.headers().contains_key("retry-after"));
        // Another account still signs in.
        assert_eq!(
            app.login(&app.admin_b, crate::support::PASSWORD)
                .await
                .status(),
            200
        );
    }
}

#[tokio::test]
async fn tenant_and_manager_tokens_do_not_cross() {
    for app in spawn_apps().await {
        let tenant = app.tenant_token(PHONE).await;
        let manager = app.access_token(&app.admin_a).await;
        for path in ["/api/v1/sites", "/api/v1/accounts", "/api/v1/me"] {
            let res = app.call(Method::GET, path, &tenant, None).await;
            assert_eq!(res.status(), 401, "{path}");
        }
        let res = app
            .call(Method::GET, "/api/v1/me/accounts", &manager, None)
            .await;
        assert_eq!(res.status(), 401);
        let res = app
            .call(Method::GET, "/api/v1/me/accounts", &tenant, None)
            .await;
        assert_eq!(res.status(), 200);
    }
}
