//! Concrete rating examples shaped like Chinese bills, checked by hand.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use domain::rating::CycleUsage;
use domain::tariff::CycleKey;
use domain::{
    rate, AnomalyKind, Energy, LineKind, MeterReading, Money, Outcome, Rated, RatingContext,
    RatingState, TariffVersion, TariffVersions, TouPeriod,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn local(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn reading(ts: DateTime<Utc>, kwh: Decimal) -> MeterReading {
    MeterReading {
        ts,
        total: Energy::new(kwh),
        tou: None,
    }
}

fn ctx(tariffs: &TariffVersions) -> RatingContext<'_> {
    RatingContext {
        ct_ratio: Decimal::ONE,
        tariffs,
        tz: Shanghai,
        max_register_power_kw: dec!(60),
    }
}

fn rated(outcome: Outcome) -> Rated {
    match outcome {
        Outcome::Rated(rated) => rated,
        other => panic!("expected Rated, got {other:?}"),
    }
}

fn since_2026() -> DateTime<Utc> {
    local(2026, 1, 1, 0)
}

#[test]
fn residential_bill_crossing_2760_kwh_splits_at_the_boundary() {
    let tariffs = TariffVersions::new(vec![TariffVersion::residential_example(
        since_2026(),
        false,
    )])
    .unwrap();
    let mut state = RatingState::baseline(&reading(local(2026, 11, 20, 0), dec!(5000)));
    state.cycle = Some(CycleUsage {
        key: CycleKey {
            year: 2026,
            month: None,
        },
        kwh: Energy::new(dec!(2700)),
    });
    let r = rated(
        rate(
            Some(&state),
            &reading(local(2026, 11, 21, 0), dec!(5100)),
            &ctx(&tariffs),
        )
        .unwrap(),
    );
    let tiers: Vec<_> = r
        .lines
        .iter()
        .map(|l| (l.tier, l.kwh.kwh(), l.amount_exact))
        .collect();
    assert_eq!(
        tiers,
        vec![
            (Some(1), dec!(60), dec!(32.280)),
            (Some(2), dec!(40), dec!(23.520))
        ]
    );
    assert_eq!(r.post, Money::from_fen(5580));
    assert_eq!(r.new_state.cycle.unwrap().kwh, Energy::new(dec!(2800)));
}

#[test]
fn residential_tou_day_adds_peak_and_valley_adjustments() {
    let tariffs =
        TariffVersions::new(vec![TariffVersion::residential_example(since_2026(), true)]).unwrap();
    let state = RatingState::baseline(&reading(local(2026, 3, 2, 0), dec!(100)));
    let r = rated(
        rate(
            Some(&state),
            &reading(local(2026, 3, 3, 0), dec!(124)),
            &ctx(&tariffs),
        )
        .unwrap(),
    );
    let find = |kind, period| {
        r.lines
            .iter()
            .find(|l| l.kind == kind && l.period == period)
            .map(|l| (l.kwh.kwh(), l.amount_exact))
            .unwrap()
    };
    assert_eq!(find(LineKind::Energy, None), (dec!(24), dec!(12.912)));
    assert_eq!(
        find(LineKind::PeriodAdjustment, Some(TouPeriod::Peak)),
        (dec!(14), dec!(0.42))
    );
    assert_eq!(
        find(LineKind::PeriodAdjustment, Some(TouPeriod::Valley)),
        (dec!(10), dec!(-2.5))
    );
    // 12.912 + 0.42 - 2.50 = 10.832, posted as 10.83.
    assert_eq!(r.post, Money::from_fen(1083));
}

#[test]
fn commercial_tou_day_pro_rata_by_time() {
    let tariffs =
        TariffVersions::new(vec![TariffVersion::commercial_tou_example(since_2026())]).unwrap();
    let state = RatingState::baseline(&reading(local(2026, 6, 1, 0), dec!(0)));
    let r = rated(
        rate(
            Some(&state),
            &reading(local(2026, 6, 2, 0), dec!(24)),
            &ctx(&tariffs),
        )
        .unwrap(),
    );
    let by_period: BTreeMap<_, _> = r
        .lines
        .iter()
        .map(|l| (l.period.unwrap(), (l.kwh.kwh(), l.amount_exact)))
        .collect();
    assert_eq!(by_period[&TouPeriod::Sharp], (dec!(2), dec!(2.70)));
    assert_eq!(by_period[&TouPeriod::Peak], (dec!(6), dec!(6.60)));
    assert_eq!(by_period[&TouPeriod::Flat], (dec!(7), dec!(4.90)));
    assert_eq!(by_period[&TouPeriod::Valley], (dec!(9), dec!(2.97)));
    assert_eq!(r.post, Money::from_fen(1717));
}

#[test]
fn commercial_tou_uses_the_meter_registers_when_present() {
    let tariffs =
        TariffVersions::new(vec![TariffVersion::commercial_tou_example(since_2026())]).unwrap();
    let regs = |s, p, f, v| {
        Some(BTreeMap::from([
            (TouPeriod::Sharp, Energy::new(s)),
            (TouPeriod::Peak, Energy::new(p)),
            (TouPeriod::Flat, Energy::new(f)),
            (TouPeriod::Valley, Energy::new(v)),
        ]))
    };
    let first = MeterReading {
        ts: local(2026, 6, 1, 0),
        total: Energy::new(dec!(100)),
        tou: regs(dec!(10), dec!(30), dec!(40), dec!(20)),
    };
    let second = MeterReading {
        ts: local(2026, 6, 1, 1),
        total: Energy::new(dec!(110)),
        tou: regs(dec!(10), dec!(30), dec!(40), dec!(30)),
    };
    let state = RatingState::baseline(&first);
    let r = rated(rate(Some(&state), &second, &ctx(&tariffs)).unwrap());
    assert_eq!(r.lines.len(), 1);
    assert_eq!(r.lines[0].period, Some(TouPeriod::Valley));
    assert_eq!(r.post, Money::from_fen(330));
}

#[test]
fn version_change_mid_interval_is_split_by_time() {
    let tariffs = TariffVersions::new(vec![
        TariffVersion::flat(since_2026(), dec!(0.5)),
        TariffVersion::flat(local(2026, 5, 1, 12), dec!(1.0)),
    ])
    .unwrap();
    let state = RatingState::baseline(&reading(local(2026, 5, 1, 0), dec!(0)));
    let r = rated(
        rate(
            Some(&state),
            &reading(local(2026, 5, 2, 0), dec!(24)),
            &ctx(&tariffs),
        )
        .unwrap(),
    );
    assert_eq!(r.post, Money::from_fen(1800));
}

#[test]
fn yearly_cycle_resets_at_local_new_year() {
    let tariffs = TariffVersions::new(vec![TariffVersion::residential_example(
        since_2026(),
        false,
    )])
    .unwrap();
    let mut state = RatingState::baseline(&reading(local(2026, 12, 31, 12), dec!(0)));
    state.cycle = Some(CycleUsage {
        key: CycleKey {
            year: 2026,
            month: None,
        },
        kwh: Energy::new(dec!(2760)),
    });
    let r = rated(
        rate(
            Some(&state),
            &reading(local(2027, 1, 1, 12), dec!(10)),
            &ctx(&tariffs),
        )
        .unwrap(),
    );
    // 5 kWh of 2026 above 2760 at 0.588, 5 kWh of 2027 in tier 1 at 0.538.
    assert_eq!(r.post, Money::from_fen(563));
    let cycle = r.new_state.cycle.unwrap();
    assert_eq!((cycle.key.year, cycle.kwh), (2027, Energy::new(dec!(5))));
}

#[test]
fn tiny_rises_accumulate_without_drift() {
    let tariffs =
        TariffVersions::new(vec![TariffVersion::flat(since_2026(), dec!(0.538))]).unwrap();
    let mut state = RatingState::baseline(&reading(local(2026, 2, 1, 0), dec!(0)));
    let mut posted = Money::ZERO;
    for step in 1..=100u32 {
        let ts = local(2026, 2, 1, 0) + chrono::TimeDelta::minutes(i64::from(step));
        let r = rated(
            rate(
                Some(&state),
                &reading(ts, Decimal::from(step) / dec!(100)),
                &ctx(&tariffs),
            )
            .unwrap(),
        );
        posted += r.post;
        state = r.new_state;
    }
    // 1 kWh at 0.538 = 0.538, posted 0.54 in total however it was split.
    assert_eq!(posted, Money::from_fen(54));
    assert_eq!(state.exact_charge, dec!(0.538));
}

#[test]
fn stale_anomalies_and_reset() {
    let tariffs = TariffVersions::new(vec![TariffVersion::flat(since_2026(), dec!(1))]).unwrap();
    let c = ctx(&tariffs);
    assert!(matches!(
        rate(None, &reading(local(2026, 1, 2, 0), dec!(10)), &c).unwrap(),
        Outcome::Baseline(_)
    ));
    let state = RatingState::baseline(&reading(local(2026, 1, 2, 0), dec!(10)));
    assert_eq!(
        rate(Some(&state), &reading(local(2026, 1, 2, 0), dec!(11)), &c).unwrap(),
        Outcome::Stale
    );
    assert_eq!(
        rate(Some(&state), &reading(local(2026, 1, 1, 0), dec!(9)), &c).unwrap(),
        Outcome::Stale
    );

    let down = rate(Some(&state), &reading(local(2026, 1, 2, 1), dec!(9)), &c).unwrap();
    let Outcome::Anomaly { kind, new_state } = down else {
        panic!("{down:?}")
    };
    assert_eq!(kind, AnomalyKind::RegisterDecreased);
    // Suspended until reviewed, even for a plausible reading.
    assert_eq!(
        rate(
            Some(&new_state),
            &reading(local(2026, 1, 2, 2), dec!(11)),
            &c
        )
        .unwrap(),
        Outcome::Suspended
    );
    let resumed = new_state.reset_baseline(&reading(local(2026, 1, 2, 3), dec!(12)));
    let r = rated(rate(Some(&resumed), &reading(local(2026, 1, 2, 4), dec!(13)), &c).unwrap());
    assert_eq!(r.post, Money::from_fen(100));

    // 60 kW for one hour is plausible, 100 kWh in an hour is not.
    let jump = rate(Some(&state), &reading(local(2026, 1, 2, 1), dec!(110)), &c).unwrap();
    assert!(matches!(
        jump,
        Outcome::Anomaly {
            kind: AnomalyKind::ImplausibleJump,
            ..
        }
    ));
    assert!(matches!(
        rate(Some(&state), &reading(local(2026, 1, 2, 1), dec!(70)), &c).unwrap(),
        Outcome::Rated(_)
    ));
}

#[test]
fn ct_ratio_multiplies_the_rise_and_state_round_trips_as_json() {
    let tariffs = TariffVersions::new(vec![TariffVersion::flat(since_2026(), dec!(1))]).unwrap();
    let mut c = ctx(&tariffs);
    c.ct_ratio = dec!(40);
    let state = RatingState::baseline(&reading(local(2026, 1, 2, 0), dec!(10)));
    let r = rated(rate(Some(&state), &reading(local(2026, 1, 2, 1), dec!(10.5)), &c).unwrap());
    assert_eq!(r.consumption, Energy::new(dec!(20)));
    assert_eq!(r.post, Money::from_fen(2000));
    let json = serde_json::to_string(&r.new_state).unwrap();
    assert!(json.contains("\"exact_charge\":\"20"), "{json}");
    let back: RatingState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r.new_state);
    let tariff_json = serde_json::to_string(&tariffs).unwrap();
    assert_eq!(
        serde_json::from_str::<TariffVersions>(&tariff_json).unwrap(),
        tariffs
    );
}

#[test]
fn service_charges_accrue_by_time_and_by_percentage() {
    let mut version = TariffVersion::flat(since_2026(), dec!(1));
    version.service_charges = vec![
        domain::ServiceCharge::PerDay {
            amount: Money::from_fen(100),
        },
        domain::ServiceCharge::PercentOfEnergy { percent: dec!(5) },
    ];
    let tariffs = TariffVersions::new(vec![version]).unwrap();
    let state = RatingState::baseline(&reading(local(2026, 4, 1, 0), dec!(0)));
    let r = rated(
        rate(
            Some(&state),
            &reading(local(2026, 4, 1, 12), dec!(10)),
            &ctx(&tariffs),
        )
        .unwrap(),
    );
    // 10 kWh at ¥1 = 10.00, 5 % of it = 0.50, half a day of ¥1/day = 0.50.
    assert_eq!(r.post, Money::from_fen(1100));
    assert_eq!(r.lines.len(), 3);
}
