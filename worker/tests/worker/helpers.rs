//! A seeded organization with one gateway, one metered unit and its prepaid account at a flat
//! ¥1.00/kWh, and a worker over it whose downlink is recorded.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{Money, TariffVersion};
use protocol::{Reading, ReadingBatch, ReadingOutcome, ReadingValues, RelayState, V1};
use rust_decimal::Decimal;
use store::account::NewAccount;
use store::gateway::NewGateway;
use store::meter::NewMeter;
use store::notifier::FileOutboxNotifier;
use store::testing::{seed_org, SeededOrg, TestDb};
use store::{Account, MeterId};
use tempfile::TempDir;
use worker::{RecordingPublisher, Settings, Worker};

pub struct World {
    pub db: TestDb,
    pub org: SeededOrg,
    pub gateway: String,
    pub meter: MeterId,
    pub account: Account,
    pub worker: Worker,
    pub published: Arc<RecordingPublisher>,
    pub outbox: FileOutboxNotifier,
    pub dir: TempDir,
}

/// A fixed working-day morning, so trip windows and local days are deterministic.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap()
}

pub fn settings(dir: &std::path::Path) -> Settings {
    Settings {
        data_dir: dir.to_owned(),
        trip_windows: "always".into(),
        worker_id: format!("test-{}", uuid::Uuid::new_v4().simple()),
        mqtt_share_group: format!("g{}", uuid::Uuid::new_v4().simple()),
        ..Settings::default()
    }
}

impl World {
    pub async fn new(db: TestDb, opening: Money) -> World {
        let dir = tempfile::tempdir().unwrap();
        World::with_settings(db, opening, settings(dir.path()), dir).await
    }

    pub async fn with_settings(
        db: TestDb,
        opening: Money,
        settings: Settings,
        dir: TempDir,
    ) -> World {
        World::with_notifier(db, opening, settings, dir, false).await
    }

    /// [`World::with_settings`], with the notifier the settings ask for when `real_notifier`
    /// (the outbox folder otherwise).
    pub async fn with_notifier(
        db: TestDb,
        opening: Money,
        settings: Settings,
        dir: TempDir,
        real_notifier: bool,
    ) -> World {
        let org = seed_org(&db, "org-w", Money::from_fen(1_000))
            .await
            .unwrap();
        let c = db.conn();
        let tariff = store::tariff::create(c, org.org, "flat").await.unwrap();
        let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        store::tariff::add_version(
            c,
            org.org,
            tariff.id,
            from,
            &serde_json::to_value(TariffVersion::flat(from, Decimal::ONE)).unwrap(),
        )
        .await
        .unwrap();
        let unit = store::unit::create(c, org.org, org.building, "201", store::UnitKind::Flat)
            .await
            .unwrap();
        let account = store::account::open_account(
            c,
            org.org,
            NewAccount {
                unit_id: unit.id,
                tenant_id: Some(org.tenant),
                tariff_id: Some(tariff.id),
                initial_balance: opening,
                created_by: None,
            },
        )
        .await
        .unwrap();
        let gateway = format!("gw-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let gw = store::gateway::create(
            c,
            org.org,
            NewGateway {
                site_id: org.site,
                gateway_id: gateway.clone(),
                name: "DTU".into(),
                mqtt_password_hash: None,
            },
        )
        .await
        .unwrap();
        let meter = store::meter::create(
            c,
            org.org,
            NewMeter {
                gateway_id: gw.id,
                unit_id: Some(unit.id),
                bus: "rs485-1".into(),
                slave: 1,
                wire_id: "m-201".into(),
                model: Some("acrel-ddsy1352".into()),
                register_map: None,
                ct_ratio: Decimal::ONE,
                max_power_kw: Decimal::from(20),
            },
        )
        .await
        .unwrap()
        .id;
        let published = Arc::new(RecordingPublisher::default());
        let outbox = FileOutboxNotifier::new(settings.outbox_dir());
        let notifier: Arc<dyn store::notifier::Notifier> = if real_notifier {
            worker::notify::from_settings(&settings).unwrap()
        } else {
            Arc::new(outbox.clone())
        };
        let worker = Worker::new(
            db.conn().clone(),
            settings,
            store::live::LiveCache::in_process(),
            published.clone(),
            notifier,
        );
        World {
            db,
            org,
            gateway,
            meter,
            account,
            worker,
            published,
            outbox,
            dir,
        }
    }

    /// A batch with one reading of the unit's meter per `(minutes after t0, kWh)`.
    pub fn batch(&self, no: u64, readings: &[(i64, &str)]) -> ReadingBatch {
        self.batch_with_relay(no, readings, None)
    }

    pub fn batch_with_relay(
        &self,
        no: u64,
        readings: &[(i64, &str)],
        relay: Option<RelayState>,
    ) -> ReadingBatch {
        ReadingBatch {
            v: V1,
            gateway: protocol::GatewayId::parse(&self.gateway).unwrap(),
            batch: no,
            readings: readings
                .iter()
                .map(|(minutes, kwh)| Reading {
                    meter: protocol::MeterId::parse("m-201").unwrap(),
                    ts: t0() + Duration::minutes(*minutes),
                    outcome: ReadingOutcome::Values(ReadingValues {
                        energy_kwh: Some(kwh.parse().unwrap()),
                        relay,
                        ..ReadingValues::default()
                    }),
                })
                .collect(),
        }
    }

    pub async fn balance(&self) -> Money {
        store::ledger::balance_of(self.db.conn(), self.org.org, self.account.id)
            .await
            .unwrap()
    }

    /// Invariant 1: every balance equals the sum of its entries.
    pub async fn assert_ledger_balanced(&self) {
        let mismatches = store::ledger::verify_balances(self.db.conn())
            .await
            .unwrap();
        assert!(
            mismatches.is_empty(),
            "{}: {mismatches:?}",
            self.db.backend()
        );
    }

    /// The commands published so far, decoded.
    pub fn commands(&self) -> Vec<protocol::Command> {
        self.published
            .messages()
            .iter()
            .filter(|m| m.topic.ends_with("/down/commands"))
            .map(|m| protocol::decode_command(&m.payload).unwrap())
            .collect()
    }

    /// The agent's ack for a command.
    pub fn ack(
        cmd: &protocol::Command,
        status: protocol::AckStatus,
        relay: Option<RelayState>,
    ) -> protocol::CommandAck {
        protocol::CommandAck {
            v: V1,
            id: cmd.id.clone(),
            meter: cmd.meter.clone(),
            seq: cmd.seq,
            status,
            relay,
            detail: None,
            ts: Utc::now(),
        }
    }

    /// Texts of the SMS written to the outbox folder.
    pub fn sms_texts(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.outbox.sms_dir()) else {
            return Vec::new();
        };
        let mut files: Vec<_> = dir
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| {
                let sms: store::notifier::SmsFile =
                    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
                sms.text
            })
            .collect()
    }
}
