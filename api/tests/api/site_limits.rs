//! Staff limited to some sites see and change only the rows under those sites: every route of
//! the isolation table answers 404 for the rows of another site of their own organization, and
//! changes nothing, exactly as for another organization's rows.

use reqwest::Method;
use serde_json::{json, Value};

use crate::isolation::{routes, snapshot_of, Ids};
use crate::support::{add_user, spawn_apps, TestApp, PASSWORD};

/// A second site of organization A with one row of each kind under it (tenant and tariff are
/// organization-wide and stay visible, so the table's rows for them are skipped).
async fn second_site(app: &TestApp) -> Ids {
    let t = app.access_token(&app.admin_a).await;
    let post = |path: &'static str, body: Value| {
        let t = t.clone();
        async move { app.expect(Method::POST, path, &t, Some(&body), 201).await }
    };
    let site = post("/api/v1/sites", json!({"name": "A2"})).await;
    let building = post(
        "/api/v1/buildings",
        json!({"site_id": site["id"], "name": "A2-1"}),
    )
    .await;
    let unit = post(
        "/api/v1/units",
        json!({"building_id": building["id"], "name": "A2-101", "kind": "flat"}),
    )
    .await;
    let account = post("/api/v1/accounts", json!({"unit_id": unit["id"]})).await;
    let gw = post(
        "/api/v1/gateways",
        json!({"site_id": site["id"], "gateway_id": format!("gw-a2{}", uuid::Uuid::new_v4().simple()), "name": "A2"}),
    )
    .await;
    let meter = post(
        "/api/v1/meters",
        json!({"gateway_id": gw["id"], "unit_id": unit["id"], "bus": "rs485-1", "slave": 1, "wire_id": "m-a2", "model": "acrel-ddsy1352"}),
    )
    .await;
    // A tariff is organization-wide (the limited member sees it): bulk routes use it.
    let tariff = post("/api/v1/tariffs", json!({"name": "A2"})).await;
    let s = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let work_order =
        crate::work_orders::open_order(app, app.org_a, "anomaly", Some(s(&meter).parse().unwrap()))
            .await
            .to_string();
    Ids {
        site: s(&site),
        building: s(&building),
        unit: s(&unit),
        tenant: String::new(),
        account: s(&account),
        tariff: s(&tariff),
        gateway: s(&gw),
        meter: s(&meter),
        work_order,
    }
}

/// Signs in an org admin of A limited to A's seeded site.
async fn limited_admin(app: &TestApp) -> String {
    let email = "limited@a.example";
    add_user(&app.db, app.org_a, email, domain::Role::OrgAdmin).await;
    let user = store::user::find_user_by_email(&app.db, email)
        .await
        .unwrap()
        .unwrap();
    store::user::update_member(
        &app.db,
        app.org_a,
        user.id,
        store::user::MemberChanges {
            site_ids: Some(Some(vec![app.seeded.a.site])),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let res = app.login(email, PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn rows_of_other_sites_answer_404_and_change_nothing() {
    for app in spawn_apps().await {
        let other = second_site(&app).await;
        let t = limited_admin(&app).await;
        let before = snapshot_of(&app, app.org_a).await;
        for (method, path, body) in routes(&other) {
            if path.contains("/tariffs") || path.contains("/tenants") {
                continue;
            }
            let res = app.call(method.clone(), &path, &t, body.as_ref()).await;
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            assert_eq!(status, 404, "{method} {path}: {text}");
            if !path.contains("?account_id=") {
                let problem: Value = serde_json::from_str(&text).unwrap();
                assert!(
                    problem["code"].as_str().unwrap().ends_with("not_found"),
                    "{text}"
                );
            }
        }
        // Lists show the member's own site's rows and never the other site's.
        let a = app.seeded.a;
        for (list, own) in [
            ("sites", a.site.to_string()),
            ("buildings", a.building.to_string()),
            ("units", a.unit.to_string()),
            ("accounts", a.account.to_string()),
            ("gateways", String::new()),
            ("meters", String::new()),
        ] {
            let page = app
                .expect(Method::GET, &format!("/api/v1/{list}"), &t, None, 200)
                .await;
            let text = page.to_string();
            assert!(text.contains(&own), "{list} misses the member's own {own}");
            for id in [
                &other.site,
                &other.building,
                &other.unit,
                &other.account,
                &other.gateway,
                &other.meter,
            ] {
                assert!(
                    !text.contains(id.as_str()),
                    "{list} shows the other site's {id}"
                );
            }
        }
        // The member's own rows still answer, and a new site is an organization-wide act.
        app.expect(
            Method::GET,
            &format!("/api/v1/accounts/{}/ledger", a.account),
            &t,
            None,
            200,
        )
        .await;
        let problem = app
            .expect(
                Method::POST,
                "/api/v1/sites",
                &t,
                Some(&json!({"name": "mine"})),
                403,
            )
            .await;
        assert_eq!(problem["code"], "forbidden");
        assert_eq!(
            snapshot_of(&app, app.org_a).await,
            before,
            "organization A changed"
        );
    }
}
