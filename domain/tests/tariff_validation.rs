//! Tariff validation: schedules must cover the day exactly once, tiers must be well formed.
#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use domain::tariff::{PeriodPrice, TouRange};
use domain::{
    Energy, Pricing, TariffError, TariffVersion, TariffVersions, Tier, TierCycle, TouPeriod,
    TouRates,
};
use rust_decimal_macros::dec;

fn from() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn tou(ranges: &[(TouPeriod, &str, &str)]) -> TariffVersion {
    let rates = TouRates {
        ranges: ranges
            .iter()
            .map(|(period, start, end)| TouRange {
                period: *period,
                start: start.parse().unwrap(),
                end: end.parse().unwrap(),
            })
            .collect(),
        prices: vec![
            PeriodPrice {
                period: TouPeriod::Peak,
                price: dec!(1),
            },
            PeriodPrice {
                period: TouPeriod::Valley,
                price: dec!(0.3),
            },
        ],
    };
    TariffVersion {
        effective_from: from(),
        pricing: Pricing::TimeOfUse { rates },
        service_charges: vec![],
    }
}

#[test]
fn examples_are_valid_and_round_trip_as_json() {
    for version in [
        TariffVersion::residential_example(from(), false),
        TariffVersion::residential_example(from(), true),
        TariffVersion::commercial_tou_example(from()),
    ] {
        version.validate().unwrap();
        let json = serde_json::to_string(&version).unwrap();
        assert!(
            !json.contains("0.538,") && !json.contains(":0."),
            "decimals are strings: {json}"
        );
        assert_eq!(
            serde_json::from_str::<TariffVersion>(&json).unwrap(),
            version
        );
    }
}

#[test]
fn tou_schedules_must_cover_the_day_exactly_once() {
    use TouPeriod::{Peak, Valley};
    tou(&[(Peak, "08:00", "22:00"), (Valley, "22:00", "08:00")])
        .validate()
        .unwrap();
    assert_eq!(
        tou(&[(Peak, "08:00", "22:00"), (Valley, "23:00", "08:00")]).validate(),
        Err(TariffError::TouGap("22:00".into()))
    );
    assert_eq!(
        tou(&[(Peak, "08:00", "22:30"), (Valley, "22:00", "08:00")]).validate(),
        Err(TariffError::TouOverlap("22:00".into()))
    );
    assert_eq!(
        tou(&[(Peak, "00:00", "24:00")]).validate(),
        Err(TariffError::TouPrice(Valley)),
        "a price for a period no range uses is a mistake"
    );
}

#[test]
fn tiers_must_increase_and_end_unbounded() {
    let tiered = |tiers| TariffVersion {
        effective_from: from(),
        pricing: Pricing::Tiered {
            cycle: TierCycle::Monthly,
            tiers,
            tou_adjustment: None,
        },
        service_charges: vec![],
    };
    let tier = |up_to: Option<i64>, price| Tier {
        up_to: up_to.map(|k| Energy::from_wh(k * 1000)),
        price,
    };
    assert_eq!(tiered(vec![]).validate(), Err(TariffError::NoTiers));
    assert_eq!(
        tiered(vec![tier(Some(100), dec!(1))]).validate(),
        Err(TariffError::LastTierBounded)
    );
    assert_eq!(
        tiered(vec![
            tier(Some(200), dec!(1)),
            tier(Some(100), dec!(1)),
            tier(None, dec!(1))
        ])
        .validate(),
        Err(TariffError::TierBoundsNotIncreasing)
    );
    assert_eq!(
        tiered(vec![tier(None, dec!(-1))]).validate(),
        Err(TariffError::NegativePrice)
    );
}

#[test]
fn versions_pick_the_one_in_force() {
    let later = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
    let versions = TariffVersions::new(vec![
        TariffVersion::flat(later, dec!(0.6)),
        TariffVersion::flat(from(), dec!(0.5)),
    ])
    .unwrap();
    assert!(versions
        .in_force_at(from() - chrono::TimeDelta::seconds(1))
        .is_none());
    assert_eq!(versions.in_force_at(from()).unwrap().effective_from, from());
    assert_eq!(versions.in_force_at(later).unwrap().effective_from, later);
    assert_eq!(
        TariffVersions::new(vec![
            TariffVersion::flat(from(), dec!(1)),
            TariffVersion::flat(from(), dec!(2))
        ]),
        Err(TariffError::DuplicateEffectiveFrom(from()))
    );
}
