//! The tariff editor and the audit log page in HTML.

use crate::desk::{add_admin_a, ADMIN_A};
use crate::support::{csrf_of, spawn_webs, MANAGER_A, MANAGER_B};

#[tokio::test]
async fn tariffs_are_created_and_versioned_with_errors_next_to_the_fields() {
    for app in spawn_webs().await {
        let a = app.signed_in(MANAGER_A).await;
        let (status, html) = app.get(&a, "/tariffs").await;
        assert_eq!(status, 200, "{}", app.backend);
        let csrf = csrf_of(&html);

        let res = app
            .post(&a, "/tariffs", &[("csrf", &csrf), ("name", " ")])
            .await;
        assert_eq!(res.status(), 422);
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("id=\"name-error\" role=\"alert\">请填写名称"));

        let res = app
            .post(&a, "/tariffs", &[("csrf", &csrf), ("name", "商业分时")])
            .await;
        assert_eq!(res.status(), 303);
        let tariff = res.headers()["location"].to_str().unwrap().to_owned();
        let (_, html) = app.get(&a, &tariff).await;
        assert!(html.contains("<h1>商业分时</h1>"), "{html}");
        let action = format!("{tariff}/versions");

        // Unreadable lines and a missing price: each said next to its field.
        let bad = [
            ("csrf", csrf.as_str()),
            ("effective_from", "2026-12-01"),
            ("kind", "time_of_use"),
            ("tou_ranges", "08:00-20:00 peak\nlunch"),
            ("price_peak", "1.10"),
        ];
        let res = app.post(&a, &action, &bad).await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(
            html.contains("id=\"tou_ranges-error\" role=\"alert\">时段格式应为"),
            "{html}"
        );
        assert!(html.contains("lunch"), "what was typed is kept");

        // Readable, but the periods leave most of the day uncovered: the domain refuses it.
        let gap = [
            ("csrf", csrf.as_str()),
            ("effective_from", "2026-12-01"),
            ("kind", "time_of_use"),
            ("tou_ranges", "08:00-20:00 peak"),
            ("price_peak", "1.10"),
        ];
        let res = app.post(&a, &action, &gap).await;
        assert_eq!(res.status(), 422);
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("id=\"tou_ranges-error\" role=\"alert\">电价规则不成立"));

        let tou = [
            ("csrf", csrf.as_str()),
            ("effective_from", "2026-12-01"),
            ("kind", "time_of_use"),
            ("tou_ranges", "08:00-20:00 peak\n20:00-08:00 valley"),
            ("price_peak", "1.10"),
            ("price_valley", "0.33"),
        ];
        let res = app.post(&a, &action, &tou).await;
        assert_eq!(res.status(), 303);
        let tiered = [
            ("csrf", csrf.as_str()),
            ("effective_from", "2027-01-01"),
            ("kind", "tiered"),
            ("cycle", "yearly"),
            ("tiers", "2760 0.538\n4800 0.588\n- 0.838"),
        ];
        let res = app.post(&a, &action, &tiered).await;
        assert_eq!(res.status(), 303);
        let (_, html) = app.get(&a, &tariff).await;
        assert!(html.contains("peak ¥1.10 · valley ¥0.33"), "{html}");
        assert!(html.contains("yearly · ≤2760 kWh ¥0.538"));
        assert!(html.contains("2026-12-01 00:00"), "China midnight");

        // The same start again is refused next to the date.
        let res = app.post(&a, &action, &tiered).await;
        assert_eq!(res.status(), 422);
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("id=\"effective_from-error\" role=\"alert\">该时间已有一个版本"));

        // The versions are what the REST API and the worker read.
        let id: uuid::Uuid = tariff.trim_start_matches("/tariffs/").parse().unwrap();
        let versions =
            store::tariff::versions(&app.db, app.seeded.a.org, store::TariffId::from(id))
                .await
                .unwrap();
        assert_eq!(versions.len(), 2);

        let b = app.signed_in(MANAGER_B).await;
        let (status, _) = app.get(&b, &tariff).await;
        assert_eq!(status, 404);
        let (_, html) = app.get(&b, "/tariffs").await;
        assert!(!html.contains("商业分时"));
    }
}

#[tokio::test]
async fn the_audit_log_is_for_org_admins() {
    for app in spawn_webs().await {
        add_admin_a(&app).await;
        let operator = app.signed_in(MANAGER_A).await;
        let (status, html) = app.get(&operator, "/").await;
        assert_eq!(status, 200, "{}", app.backend);
        assert!(!html.contains("href=\"/audit\""), "no link for operators");
        let (status, _) = app.get(&operator, "/audit").await;
        assert_eq!(status, 403);
        // Something to audit: a tariff created by the operator.
        let (_, html) = app.get(&operator, "/tariffs").await;
        app.post(
            &operator,
            "/tariffs",
            &[("csrf", &csrf_of(&html)), ("name", "Audited")],
        )
        .await;

        let admin = app.signed_in(ADMIN_A).await;
        let (status, html) = app.get(&admin, "/audit").await;
        assert_eq!(status, 200);
        assert!(html.contains("href=\"/audit\""));
        assert!(html.contains("<code>tariff.create</code>"), "{html}");
        assert!(html.contains(MANAGER_A));
    }
}

#[tokio::test]
async fn a_new_gateway_shows_its_password_once_and_meters_are_added_to_it() {
    for app in spawn_webs().await {
        let a = app.signed_in(MANAGER_A).await;
        let (status, html) = app.get(&a, "/gateways/new").await;
        assert_eq!(status, 200, "{}", app.backend);
        let csrf = csrf_of(&html);
        let site = app.seeded.a.site.to_string();

        let res = app
            .post(
                &a,
                "/gateways",
                &[
                    ("csrf", &csrf),
                    ("site", &site),
                    ("wire_id", "GW_1"),
                    ("name", ""),
                ],
            )
            .await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(
            html.contains("id=\"wire_id-error\" role=\"alert\">格式应为 gw-"),
            "{html}"
        );
        assert!(html.contains("id=\"name-error\""));

        let form = [
            ("csrf", csrf.as_str()),
            ("site", site.as_str()),
            ("wire_id", "gw-web1"),
            ("name", "1号楼 DTU"),
        ];
        let res = app.post(&a, "/gateways", &form).await;
        assert_eq!(res.status(), 201);
        let html = res.text().await.unwrap();
        assert!(html.contains("<code id=\"mqtt-username\">gw-web1</code>"));
        let start = html.find("id=\"mqtt-password\" class=\"secret\">").unwrap()
            + "id=\"mqtt-password\" class=\"secret\">".len();
        let password = &html[start..start + html[start..].find('<').unwrap()];
        assert!(password.len() >= 16, "a real password: {password}");
        assert!(html.contains("gateway_id = &quot;gw-web1&quot;"), "{html}");
        assert!(
            html.contains("pay.example.com:8883&quot;"),
            "the broker is on the public host"
        );
        assert!(html.contains("download=\"wattpay-agent-gw-web1.toml\""));
        // Only its hash is kept: the password is on that page and nowhere else.
        let stored = store::gateway::list(&app.db, app.seeded.a.org, store::Page::new(1, 10))
            .await
            .unwrap()
            .items;
        let g = stored.iter().find(|g| g.gateway_id == "gw-web1").unwrap();
        assert_ne!(g.mqtt_password_hash.as_deref(), Some(password));
        let (_, list) = app.get(&a, "/gateways").await;
        assert!(list.contains("gw-web1") && !list.contains(password));
        // The same id again is refused next to the field.
        let res = app.post(&a, "/gateways", &form).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("该网关编号已被使用"));

        // A meter on it, in the seeded unit.
        let gateway = g.id.to_string();
        let unit = app.seeded.a.unit.to_string();
        let (_, html) = app.get(&a, &format!("/meters/new?gateway={gateway}")).await;
        assert!(html.contains(&format!("<option value=\"{gateway}\" selected>")));
        let bad = [
            ("csrf", csrf.as_str()),
            ("gateway", gateway.as_str()),
            ("unit", unit.as_str()),
            ("bus", "rs485-1"),
            ("slave", "300"),
            ("wire_id", "m 1"),
            ("model", "acrel-ddsy1352"),
            ("ct_ratio", "0"),
        ];
        let res = app.post(&a, "/meters", &bad).await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"slave-error\" role=\"alert\">地址须为 1 到 247"));
        assert!(html.contains("id=\"wire_id-error\""));
        assert!(html.contains("id=\"ct_ratio-error\""));
        let good = [
            ("csrf", csrf.as_str()),
            ("gateway", gateway.as_str()),
            ("unit", unit.as_str()),
            ("bus", "rs485-1"),
            ("slave", "3"),
            ("wire_id", "m-301"),
            ("model", "acrel-ddsy1352"),
            ("ct_ratio", "1"),
        ];
        let res = app.post(&a, "/meters", &good).await;
        assert_eq!(res.status(), 303);
        let (_, html) = app.get(&a, "/gateways").await;
        assert!(html.contains("<td>m-301</td>"), "{html}");
        let messages =
            store::outbox::claim(&app.db, "test", 100, std::time::Duration::from_secs(60))
                .await
                .unwrap();
        assert!(messages
            .iter()
            .any(|m| m.kind == store::outbox::kind::GATEWAY_CONFIG_CHANGED));

        // Organization B cannot add a meter to A's gateway.
        let b = app.signed_in(MANAGER_B).await;
        let (_, html_b) = app.get(&b, "/meters/new").await;
        let csrf_b = csrf_of(&html_b);
        let mut other = good.to_vec();
        other[0] = ("csrf", &csrf_b);
        other[2] = ("unit", "");
        other[5] = ("wire_id", "m-999");
        let res = app.post(&b, "/meters", &other).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("id=\"gateway-error\""));
    }
}
