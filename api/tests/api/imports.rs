//! CSV imports of units, tenants and meters: a dry run reports every bad row, nothing is imported
//! until the file is clean, a clean file is imported at once.

use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::support::{spawn_apps, TestApp};

async fn upload(app: &TestApp, t: &str, kind: &str, dry: bool, body: Vec<u8>) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/imports/{kind}?dry_run={dry}")))
        .bearer_auth(t)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// How many rows `table` has (both organizations: tests compare before and after).
async fn rows(app: &TestApp, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    app.db
        .query_one(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
}

fn errors(v: &Value) -> Vec<(u64, String, String)> {
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn units_are_imported_only_when_every_row_is_good() {
    for app in spawn_apps().await {
        let t = app.access_token(&app.admin_a).await;
        let site = store::site::get(&app.db, app.org_a, app.seeded.a.site)
            .await
            .unwrap();
        let units_before = rows(&app, "units").await;
        let buildings_before = rows(&app, "buildings").await;
        let bad = format!(
            "site,building,unit,kind\n{s},A,101,flat\nNowhere,A,102,flat\n{s},A,103,castle\n{s},A,101,shop\n{s},,104,\n",
            s = site.name
        );
        let (status, report) = upload(&app, &t, "units", true, bad.clone().into_bytes()).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["valid"], false);
        assert_eq!(
            errors(&report),
            [
                (3, "site".into(), "unknown_site".into()),
                (4, "kind".into(), "invalid_kind".into()),
                (5, "unit".into(), "duplicate".into()),
                (6, "building".into(), "required".into()),
            ]
        );
        // The real run of the same file: 422 with the same errors, nothing imported.
        let (status, problem) = upload(&app, &t, "units", false, bad.into_bytes()).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (422, Some("invalid_rows"))
        );
        assert_eq!(problem["errors"].as_array().unwrap().len(), 4);
        assert_eq!(rows(&app, "units").await, units_before);
        assert_eq!(rows(&app, "buildings").await, buildings_before);

        // Header problems are reported on row 1.
        let (_, report) = upload(&app, &t, "units", true, b"site,building,colour\n".to_vec()).await;
        assert_eq!(
            errors(&report),
            [
                (1, "colour".into(), "unknown_column".into()),
                (1, "unit".into(), "missing_column".into())
            ]
        );

        // A clean file with a BOM and CRLF line ends, as Excel writes it.
        let good = format!("\u{feff}Site,Building,Unit,Kind\r\n{s},A,101,flat\r\n{s},A,102,商铺\r\n\"{s}\",\"B, east\",201,\r\n", s = site.name);
        let (status, report) = upload(&app, &t, "units", true, good.clone().into_bytes()).await;
        assert_eq!(
            (status, report["valid"].as_bool()),
            (200, Some(true)),
            "{report}"
        );
        assert_eq!(report["buildings_created"], 2);
        assert_eq!(
            rows(&app, "units").await,
            units_before,
            "a dry run imports nothing"
        );
        let (status, report) = upload(&app, &t, "units", false, good.into_bytes()).await;
        assert_eq!(status, 201, "{report}");
        assert_eq!(report["created"].as_array().unwrap().len(), 3);
        assert_eq!(rows(&app, "units").await, units_before + 3);
        assert_eq!(rows(&app, "buildings").await, buildings_before + 2);
        let shop = app
            .expect(
                Method::GET,
                &format!("/api/v1/units/{}", report["created"][1].as_str().unwrap()),
                &t,
                None,
                200,
            )
            .await;
        assert_eq!(shop["kind"], "shop");
        let audited = store::audit::list(&app.db, app.org_a, store::Page::all())
            .await
            .unwrap();
        assert!(audited.items.iter().any(|e| e.action == "import.units"));
    }
}

#[tokio::test]
async fn tenants_from_excel_in_gbk_and_meters_with_their_gateway_config() {
    for app in spawn_apps().await {
        let t = app.access_token(&app.admin_a).await;
        let a = app.seeded.a;
        // "name,phone\n张三,13800000001\n" saved as GBK.
        let (text, _, _) =
            encoding_rs::GBK.encode("name,phone\n张三,13800000001\n李四,\n王五,13800000001\n");
        let (status, report) = upload(&app, &t, "tenants", false, text.to_vec()).await;
        assert_eq!(status, 422, "{report}");
        assert_eq!(errors(&report), [(4, "phone".into(), "duplicate".into())]);
        let (text, _, _) = encoding_rs::GBK.encode("name,phone\n张三,13800000001\n李四,\n");
        let (status, report) = upload(&app, &t, "tenants", false, text.to_vec()).await;
        assert_eq!(status, 201, "{report}");
        let id = report["created"][0].as_str().unwrap();
        let tenant = app
            .expect(Method::GET, &format!("/api/v1/tenants/{id}"), &t, None, 200)
            .await;
        assert_eq!(tenant["name"], "张三");
        let (status, _) = upload(&app, &t, "tenants", true, vec![0xff, 0xfe, 0x00]).await;
        assert_eq!(status, 400);

        // Meters: on a gateway of A, one on the seeded unit; B's gateway is unknown to A.
        let gw = app
            .expect(Method::POST, "/api/v1/gateways", &t,
                Some(&json!({"site_id": a.site, "gateway_id": format!("gw-i{}", uuid::Uuid::new_v4().simple()), "name": "g"})), 201)
            .await;
        let gw = gw["gateway_id"].as_str().unwrap().to_owned();
        let tb = app.access_token(&app.admin_b).await;
        let gb = app
            .expect(Method::POST, "/api/v1/gateways", &tb,
                Some(&json!({"site_id": app.seeded.b.site, "gateway_id": format!("gw-j{}", uuid::Uuid::new_v4().simple()), "name": "g"})), 201)
            .await;
        let gb = gb["gateway_id"].as_str().unwrap().to_owned();
        let site = store::site::get(&app.db, app.org_a, a.site)
            .await
            .unwrap()
            .name;
        let building = store::building::get(&app.db, app.org_a, a.building)
            .await
            .unwrap()
            .name;
        let unit = store::unit::get(&app.db, app.org_a, a.unit)
            .await
            .unwrap()
            .name;
        let bad = format!(
            "gateway,bus,slave,wire_id,model,site,building,unit,ct_ratio\n\
             {gw},rs485-1,1,m-1,acrel-ddsy1352,{site},{building},{unit},\n\
             {gb},rs485-1,2,m-2,acrel-ddsy1352,,,,\n\
             {gw},rs485-1,300,m-1,acrel-ddsy1352,,,,-1\n"
        );
        let (status, report) = upload(&app, &t, "meters", true, bad.into_bytes()).await;
        assert_eq!(status, 200);
        assert_eq!(
            errors(&report),
            [
                (3, "gateway".into(), "unknown_gateway".into()),
                (4, "slave".into(), "invalid_slave".into()),
                (4, "wire_id".into(), "duplicate".into()),
                (4, "ct_ratio".into(), "invalid_decimal".into()),
            ]
        );
        let configs_before = rows(&app, "outbox").await;
        let good = format!(
            "gateway,bus,slave,wire_id,model,site,building,unit,ct_ratio\n\
             {gw},rs485-1,1,m-1,acrel-ddsy1352,{site},{building},{unit},\n\
             {gw},rs485-1,2,m-2,acrel-ddsy1352,,,,2.5\n"
        );
        let (status, report) = upload(&app, &t, "meters", false, good.into_bytes()).await;
        assert_eq!(status, 201, "{report}");
        let m = app
            .expect(
                Method::GET,
                &format!("/api/v1/meters/{}", report["created"][0].as_str().unwrap()),
                &t,
                None,
                200,
            )
            .await;
        assert_eq!(m["unit_id"], a.unit.to_string());
        // One config row for the gateway, as meter creation writes.
        assert_eq!(rows(&app, "outbox").await, configs_before + 1);
    }
}
