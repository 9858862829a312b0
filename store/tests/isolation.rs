//! Organization B never reads A's rows: every org-scoped get answers NotFound and every list
//! is empty of A's rows, on every backend.
#![allow(clippy::unwrap_used)]

use chrono::Utc;
use rust_decimal::Decimal;
use store::gateway::NewGateway;
use store::meter::NewMeter;
use store::testing::{backends, seed_two_orgs};
use store::{
    account, audit, building, gateway, ledger, meter, site, tariff, tenant, unit, unscoped, Page,
    StoreError, UnitKind,
};

fn not_found<T: std::fmt::Debug>(res: &Result<T, StoreError>) -> bool {
    matches!(res, Err(StoreError::NotFound))
}

#[tokio::test]
async fn organization_b_never_reads_a_rows() -> anyhow::Result<()> {
    for db in backends().await {
        let seeded = seed_two_orgs(&db).await?;
        let (a, b) = (seeded.a, seeded.b);
        let c = db.conn();
        let tariff = tariff::create(c, a.org, "Residential").await?;
        tariff::add_version(
            c,
            a.org,
            tariff.id,
            Utc::now(),
            &serde_json::json!({"flat": "0.538"}),
        )
        .await?;
        let gw = gateway::create(
            c,
            a.org,
            NewGateway {
                site_id: a.site,
                gateway_id: "gw-0001".into(),
                name: "Building 1 DTU".into(),
                mqtt_password_hash: None,
            },
        )
        .await?;
        let mtr = meter::create(
            c,
            a.org,
            NewMeter {
                gateway_id: gw.id,
                unit_id: Some(a.unit),
                bus: "rs485-1".into(),
                slave: 1,
                wire_id: "m-101".into(),
                model: Some("acrel-ddsy1352".into()),
                register_map: None,
                ct_ratio: Decimal::ONE,
                max_power_kw: Decimal::new(12, 0),
            },
        )
        .await?;
        audit::record(
            c,
            Some(a.org),
            Some(a.admin),
            "account.protect",
            "account",
            &a.account.to_string(),
            serde_json::json!({"reason": "hospital"}),
        )
        .await?;

        // Single-row lookups with B's org id.
        assert!(
            not_found(&site::get(c, b.org, a.site).await),
            "{}",
            db.backend()
        );
        assert!(not_found(&building::get(c, b.org, a.building).await));
        assert!(not_found(&unit::get(c, b.org, a.unit).await));
        assert!(not_found(&tenant::get(c, b.org, a.tenant).await));
        assert!(not_found(&account::get(c, b.org, a.account).await));
        assert!(not_found(&tariff::get(c, b.org, tariff.id).await));
        assert!(not_found(&gateway::get(c, b.org, gw.id).await));
        assert!(not_found(&meter::get(c, b.org, mtr.id).await));
        assert!(not_found(&ledger::balance_of(c, b.org, a.account).await));
        // ... while A sees its own.
        assert_eq!(
            meter::get(c, a.org, mtr.id).await?.ct_ratio()?,
            Decimal::ONE
        );
        assert_eq!(account::get(c, a.org, a.account).await?.balance_fen, 10_000);

        // Lists: B sees exactly its own rows.
        let pg = Page::all();
        assert_eq!(
            site::list(c, b.org, pg)
                .await?
                .items
                .iter()
                .map(|x| x.id)
                .collect::<Vec<_>>(),
            vec![b.site]
        );
        assert_eq!(
            building::list(c, b.org, None, pg)
                .await?
                .items
                .iter()
                .map(|x| x.id)
                .collect::<Vec<_>>(),
            vec![b.building]
        );
        assert_eq!(building::list(c, b.org, Some(a.site), pg).await?.total, 0);
        assert_eq!(
            unit::list(c, b.org, None, pg)
                .await?
                .items
                .iter()
                .map(|x| x.id)
                .collect::<Vec<_>>(),
            vec![b.unit]
        );
        assert_eq!(unit::list(c, b.org, Some(a.building), pg).await?.total, 0);
        assert_eq!(
            tenant::list(c, b.org, pg)
                .await?
                .items
                .iter()
                .map(|x| x.id)
                .collect::<Vec<_>>(),
            vec![b.tenant]
        );
        assert_eq!(
            account::list(c, b.org, None, pg)
                .await?
                .items
                .iter()
                .map(|x| x.id)
                .collect::<Vec<_>>(),
            vec![b.account]
        );
        assert_eq!(account::list(c, b.org, Some(a.unit), pg).await?.total, 0);
        assert_eq!(tariff::list(c, b.org, pg).await?.total, 0);
        assert!(tariff::versions(c, b.org, tariff.id).await?.is_empty());
        assert_eq!(gateway::list(c, b.org, pg).await?.total, 0);
        assert_eq!(meter::list(c, b.org, None, pg).await?.total, 0);
        assert_eq!(meter::list(c, b.org, Some(gw.id), pg).await?.total, 0);
        assert_eq!(ledger::entries_of(c, b.org, a.account, pg).await?.total, 0);
        assert_eq!(audit::list(c, b.org, pg).await?.total, 0);
        assert_eq!(audit::list(c, a.org, pg).await?.total, 1);

        // Creating under another organization's parent is not found either.
        assert!(not_found(&building::create(c, b.org, a.site, "X").await));
        assert!(not_found(
            &unit::create(c, b.org, a.building, "X", UnitKind::Shop).await
        ));
        assert!(not_found(
            &tariff::add_version(c, b.org, tariff.id, Utc::now(), &serde_json::json!({})).await
        ));

        // The one public lookup: the door page by account number.
        let acc = account::get(c, a.org, a.account).await?;
        assert!(
            account::is_valid_account_no(&acc.account_no),
            "{}",
            acc.account_no
        );
        let door = unscoped::find_by_account_no(c, &acc.account_no)
            .await?
            .unwrap();
        assert_eq!(door.id, a.account);
    }
    Ok(())
}
