//! Organizations created by platform admins, users invited and managed by org admins, password
//! changes and resets, and `?sort=` on the lists.

use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::support::{spawn_apps, TestApp, PASSWORD};

/// The emails the embedded notifier wrote to `to`, oldest first.
fn mails_to(app: &TestApp, to: &str) -> Vec<store::notifier::MailFile> {
    let dir = app.data_dir().join("outbox").join("mail");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let mail: store::notifier::MailFile =
                serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
            (mail.to == to).then_some(mail)
        })
        .collect()
}

async fn post_public(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn audit_text(app: &TestApp) -> String {
    let rows = app
        .db
        .query_all(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT action, detail FROM audit_log ORDER BY id".to_owned(),
        ))
        .await
        .unwrap();
    let mut out = String::new();
    for r in &rows {
        let action: String = r.try_get("", "action").unwrap();
        let detail: String = r.try_get("", "detail").unwrap();
        out.push_str(&action);
        out.push(' ');
        out.push_str(&detail);
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn platform_admins_create_organizations_with_a_password_or_an_invitation() {
    use domain::Role;
    for app in spawn_apps().await {
        let platform = app.token_for_role(app.org_a, Role::PlatformAdmin).await;
        let admin = app.access_token(&app.admin_a).await;
        let body = json!({"name": "绿城物业", "admin_email": "Boss@Greentown.example",
            "admin_password": "long enough password"});
        let p = app
            .expect(Method::POST, "/api/v1/orgs", &admin, Some(&body), 403)
            .await;
        assert_eq!(p["code"], "forbidden");
        let org = app
            .expect(Method::POST, "/api/v1/orgs", &platform, Some(&body), 201)
            .await;
        assert_eq!(org["name"], "绿城物业");
        assert_eq!(org["admin_email"], "boss@greentown.example");
        assert!(org["invitation"].is_null());
        let res = app
            .login("boss@greentown.example", "long enough password")
            .await;
        assert_eq!(res.status(), 200);
        let me: Value = res.json().await.unwrap();
        let me = app
            .expect(
                Method::GET,
                "/api/v1/me",
                me["access_token"].as_str().unwrap(),
                None,
                200,
            )
            .await;
        assert_eq!(me["organization_id"], org["id"]);
        assert_eq!(me["role"], "org_admin");

        // Same email again, weak password, empty name: stable codes, nothing created.
        let p = app
            .expect(Method::POST, "/api/v1/orgs", &platform, Some(&body), 409)
            .await;
        assert_eq!(p["code"], "email_taken");
        let weak = json!({"name": "x", "admin_email": "x@x.example", "admin_password": "short"});
        let p = app
            .expect(Method::POST, "/api/v1/orgs", &platform, Some(&weak), 422)
            .await;
        assert_eq!(p["code"], "weak_password");
        let list = app
            .expect(Method::GET, "/api/v1/orgs", &platform, None, 200)
            .await;
        assert_eq!(list["total"], 3, "{list}");
        app.expect(Method::GET, "/api/v1/orgs", &admin, None, 403)
            .await;

        // Without a password the admin gets an invitation, emailed and answered once.
        let org2 = app
            .expect(
                Method::POST,
                "/api/v1/orgs",
                &platform,
                Some(&json!({"name": "万科", "admin_email": "chief@vanke.example"})),
                201,
            )
            .await;
        let token = org2["invitation"]["token"].as_str().unwrap();
        let mails = mails_to(&app, "chief@vanke.example");
        assert_eq!(mails.len(), 1);
        assert!(mails[0].body.contains(token));
        let (status, joined) = post_public(
            &app,
            "/api/v1/auth/accept-invitation",
            json!({"token": token, "password": "chief's long password"}),
        )
        .await;
        assert_eq!(status, 201, "{joined}");
        assert_eq!(joined["organization_id"], org2["id"]);
        assert_eq!(joined["role"], "org_admin");
        assert_eq!(
            app.login("chief@vanke.example", "chief's long password")
                .await
                .status(),
            200
        );
        assert!(!audit_text(&app).await.contains(token));
    }
}

#[tokio::test]
async fn org_admins_invite_users_who_accept_once() {
    for app in spawn_apps().await {
        let admin = app.access_token(&app.admin_a).await;
        let site = app.seeded.a.site.to_string();
        let inv = app
            .expect(
                Method::POST,
                "/api/v1/users/invitations",
                &admin,
                Some(
                    &json!({"email": "Cashier@A.example", "role": "operator", "site_ids": [site]}),
                ),
                201,
            )
            .await;
        assert_eq!(inv["email"], "cashier@a.example");
        assert_eq!(inv["site_ids"], json!([site]));
        let token = inv["token"].as_str().unwrap().to_owned();
        assert!(inv["link"].as_str().unwrap().ends_with(&token));
        assert!(mails_to(&app, "cashier@a.example")[0].body.contains(&token));

        // Bad input and bad tokens: stable codes.
        for (body, code) in [
            (
                json!({"email": "nope", "role": "operator"}),
                "invalid_email",
            ),
            (
                json!({"email": "a@b.example", "role": "tenant"}),
                "invalid_role",
            ),
            (
                json!({"email": "a@b.example", "role": "platform_admin"}),
                "invalid_role",
            ),
        ] {
            let p = app
                .expect(
                    Method::POST,
                    "/api/v1/users/invitations",
                    &admin,
                    Some(&body),
                    400,
                )
                .await;
            assert_eq!(p["code"], code);
        }
        let p = app
            .expect(
                Method::POST,
                "/api/v1/users/invitations",
                &admin,
                Some(&json!({"email": "x@a.example", "role": "viewer", "site_ids": [app.seeded.b.site]})),
                404,
            )
            .await;
        assert_eq!(p["code"], "site_not_found");
        let p = app
            .expect(
                Method::POST,
                "/api/v1/users/invitations",
                &admin,
                Some(&json!({"email": "ADMIN@a.example", "role": "viewer"})),
                409,
            )
            .await;
        assert_eq!(p["code"], "already_member");
        let (status, p) = post_public(
            &app,
            "/api/v1/auth/accept-invitation",
            json!({"token": "forged", "password": "a long password"}),
        )
        .await;
        assert_eq!(
            (status, p["code"].as_str()),
            (400, Some("invalid_invitation"))
        );
        let (status, p) = post_public(
            &app,
            "/api/v1/auth/accept-invitation",
            json!({"token": token, "password": "short"}),
        )
        .await;
        assert_eq!((status, p["code"].as_str()), (422, Some("weak_password")));

        let (status, _) = post_public(
            &app,
            "/api/v1/auth/accept-invitation",
            json!({"token": token, "password": "cashier password", "name": "王收银"}),
        )
        .await;
        assert_eq!(status, 201);
        let (status, p) = post_public(
            &app,
            "/api/v1/auth/accept-invitation",
            json!({"token": token, "password": "cashier password"}),
        )
        .await;
        assert_eq!((status, p["code"].as_str()), (409, Some("invitation_used")));

        // An expired invitation.
        let old = app
            .expect(
                Method::POST,
                "/api/v1/users/invitations",
                &admin,
                Some(&json!({"email": "late@a.example", "role": "viewer"})),
                201,
            )
            .await;
        app.db
            .execute(Statement::from_sql_and_values(
                app.db.get_database_backend(),
                if app.db.get_database_backend() == sea_orm::DbBackend::Postgres {
                    "UPDATE invitations SET expires_at = $1 WHERE email = $2"
                } else {
                    "UPDATE invitations SET expires_at = ? WHERE email = ?"
                },
                [
                    (chrono::Utc::now() - chrono::Duration::hours(1)).into(),
                    "late@a.example".into(),
                ],
            ))
            .await
            .unwrap();
        let (status, p) = post_public(
            &app,
            "/api/v1/auth/accept-invitation",
            json!({"token": old["token"], "password": "a long password"}),
        )
        .await;
        assert_eq!(
            (status, p["code"].as_str()),
            (400, Some("invitation_expired"))
        );

        // The new member is listed, limited to the site, and sees only it.
        let users = app
            .expect(
                Method::GET,
                "/api/v1/users?role=operator",
                &admin,
                None,
                200,
            )
            .await;
        assert_eq!(users["total"], 1);
        assert_eq!(users["items"][0]["email"], "cashier@a.example");
        assert_eq!(users["items"][0]["name"], "王收银");
        assert_eq!(users["items"][0]["site_ids"], json!([site]));
        let res = app.login("cashier@a.example", "cashier password").await;
        let pair: Value = res.json().await.unwrap();
        let cashier = pair["access_token"].as_str().unwrap();
        let sites = app
            .expect(Method::GET, "/api/v1/sites", cashier, None, 200)
            .await;
        assert_eq!(sites["total"], 1);
        // Operators do not manage users.
        let p = app
            .expect(Method::GET, "/api/v1/users", cashier, None, 403)
            .await;
        assert_eq!(p["code"], "forbidden");
        let audit = audit_text(&app).await;
        assert!(audit.contains("user.invite") && audit.contains("user.join"));
        assert!(!audit.contains(&token), "a token reached the audit log");
    }
}

#[tokio::test]
async fn disabled_members_are_signed_out_and_the_last_admin_stays() {
    use domain::Role;
    for app in spawn_apps().await {
        let admin = app.access_token(&app.admin_a).await;
        let email = "viewer@a.example";
        crate::support::add_user(&app.db, app.org_a, email, Role::Viewer).await;
        let pair: Value = app.login(email, PASSWORD).await.json().await.unwrap();
        let users = app
            .expect(Method::GET, "/api/v1/users?role=viewer", &admin, None, 200)
            .await;
        let id = users["items"][0]["id"].as_str().unwrap().to_owned();
        let after = app
            .expect(
                Method::PATCH,
                &format!("/api/v1/users/{id}"),
                &admin,
                Some(&json!({"disabled": true, "role": "technician"})),
                200,
            )
            .await;
        assert_eq!(after["disabled"], true);
        assert_eq!(after["role"], "technician");
        let res = app.login(email, PASSWORD).await;
        assert_eq!(res.status(), 401);
        let (status, _) = post_public(
            &app,
            "/api/v1/auth/refresh",
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
        assert_eq!(status, 401, "a disabled member's refresh token still works");
        app.expect(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            &admin,
            Some(&json!({"disabled": false})),
            200,
        )
        .await;
        assert_eq!(app.login(email, PASSWORD).await.status(), 200);

        // The only enabled org admin cannot demote or disable themselves: disable the seed's
        // other admin first.
        let me = app
            .expect(Method::GET, "/api/v1/me", &admin, None, 200)
            .await;
        let me = me["user_id"].as_str().unwrap();
        let admins = app
            .expect(
                Method::GET,
                "/api/v1/users?role=org_admin",
                &admin,
                None,
                200,
            )
            .await;
        assert_eq!(admins["total"], 2, "{admins}");
        for other in admins["items"].as_array().unwrap() {
            if other["id"] != me {
                let path = format!("/api/v1/users/{}", other["id"].as_str().unwrap());
                app.expect(
                    Method::PATCH,
                    &path,
                    &admin,
                    Some(&json!({"disabled": true})),
                    200,
                )
                .await;
            }
        }
        for body in [json!({"role": "operator"}), json!({"disabled": true})] {
            let p = app
                .expect(
                    Method::PATCH,
                    &format!("/api/v1/users/{me}"),
                    &admin,
                    Some(&body),
                    409,
                )
                .await;
            assert_eq!(p["code"], "last_admin");
        }
        // Another organization's user is not found.
        let b_admin = app.access_token(&app.admin_b).await;
        let p = app
            .expect(
                Method::PATCH,
                &format!("/api/v1/users/{id}"),
                &b_admin,
                Some(&json!({"disabled": true})),
                404,
            )
            .await;
        assert_eq!(p["code"], "user_not_found");
        let audit = audit_text(&app).await;
        assert!(audit.contains("user.update"));
    }
}

#[tokio::test]
async fn passwords_are_changed_and_reset_once() {
    use domain::Role;
    for app in spawn_apps().await {
        let admin = app.access_token(&app.admin_a).await;
        let email = "tech@a.example";
        crate::support::add_user(&app.db, app.org_a, email, Role::Technician).await;
        let tech = app.access_token(email).await;
        let users = app
            .expect(
                Method::GET,
                "/api/v1/users?role=technician",
                &admin,
                None,
                200,
            )
            .await;
        let id = users["items"][0]["id"].as_str().unwrap().to_owned();

        // The user changes their own password.
        let p = app
            .expect(
                Method::POST,
                "/api/v1/auth/password",
                &tech,
                Some(&json!({"current_password": "wrong one!", "new_password": "brand new password"})),
                422,
            )
            .await;
        assert_eq!(p["code"], "wrong_password");
        let p = app
            .expect(
                Method::POST,
                "/api/v1/auth/password",
                &tech,
                Some(&json!({"current_password": PASSWORD, "new_password": "short"})),
                422,
            )
            .await;
        assert_eq!(p["code"], "weak_password");
        app.expect(
            Method::POST,
            "/api/v1/auth/password",
            &tech,
            Some(&json!({"current_password": PASSWORD, "new_password": "brand new password"})),
            204,
        )
        .await;
        assert_eq!(app.login(email, PASSWORD).await.status(), 401);
        assert_eq!(app.login(email, "brand new password").await.status(), 200);

        // The admin issues a reset link; it works once.
        let reset = app
            .expect(
                Method::POST,
                &format!("/api/v1/users/{id}/password-reset"),
                &admin,
                None,
                201,
            )
            .await;
        let token = reset["token"].as_str().unwrap();
        let (status, p) = post_public(
            &app,
            "/api/v1/auth/reset-password",
            json!({"token": "nope", "password": "after reset password"}),
        )
        .await;
        assert_eq!(
            (status, p["code"].as_str()),
            (400, Some("invalid_reset_token"))
        );
        let (status, _) = post_public(
            &app,
            "/api/v1/auth/reset-password",
            json!({"token": token, "password": "after reset password"}),
        )
        .await;
        assert_eq!(status, 204);
        let (status, p) = post_public(
            &app,
            "/api/v1/auth/reset-password",
            json!({"token": token, "password": "another password!"}),
        )
        .await;
        assert_eq!(
            (status, p["code"].as_str()),
            (409, Some("reset_token_used"))
        );
        assert_eq!(app.login(email, "after reset password").await.status(), 200);
        assert!(!audit_text(&app).await.contains(token));

        // Operators cannot reset passwords; another organization's admin cannot reach the user.
        let operator = app.token_for_role(app.org_a, Role::Operator).await;
        app.expect(
            Method::POST,
            &format!("/api/v1/users/{id}/password-reset"),
            &operator,
            None,
            403,
        )
        .await;
        let b_admin = app.access_token(&app.admin_b).await;
        app.expect(
            Method::POST,
            &format!("/api/v1/users/{id}/password-reset"),
            &b_admin,
            None,
            404,
        )
        .await;
    }
}

#[tokio::test]
async fn lists_sort_by_whitelisted_fields() {
    for app in spawn_apps().await {
        let admin = app.access_token(&app.admin_a).await;
        for name in ["Beta", "Alpha", "Gamma"] {
            app.expect(
                Method::POST,
                "/api/v1/sites",
                &admin,
                Some(&json!({"name": name})),
                201,
            )
            .await;
        }
        let names = |v: &Value| -> Vec<String> {
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_owned())
                .collect()
        };
        let asc = app
            .expect(Method::GET, "/api/v1/sites?sort=name", &admin, None, 200)
            .await;
        let mut sorted = names(&asc);
        sorted.sort();
        assert_eq!(names(&asc), sorted);
        let desc = app
            .expect(
                Method::GET,
                "/api/v1/sites?sort=-name&per_page=2",
                &admin,
                None,
                200,
            )
            .await;
        let mut reversed = sorted.clone();
        reversed.reverse();
        assert_eq!(names(&desc), reversed[..2].to_vec());
        assert_eq!(desc["total"], 4);
        for path in [
            "/api/v1/sites?sort=password",
            "/api/v1/accounts?sort=-organization_id",
            "/api/v1/users?sort=email;drop",
        ] {
            let p = app.expect(Method::GET, path, &admin, None, 400).await;
            assert_eq!(p["code"], "invalid_sort", "{path}");
        }
        for path in [
            "/api/v1/buildings?sort=-created_at",
            "/api/v1/units?sort=kind",
            "/api/v1/tenants?sort=name",
            "/api/v1/accounts?sort=-balance",
            "/api/v1/meters?sort=wire_id",
            "/api/v1/gateways?sort=-online",
            "/api/v1/tariffs?sort=name",
            "/api/v1/users?sort=-role",
        ] {
            app.expect(Method::GET, path, &admin, None, 200).await;
        }
    }
}
