//! Property tests of rating: splitting a rise never changes what is posted, tier splits are
//! exact, and time-of-use pro rata covers the interval exactly.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use domain::rating::CycleUsage;
use domain::tariff::{tiers, CycleKey};
use domain::{
    rate, Energy, MeterReading, Money, Outcome, Rated, RatingContext, RatingState, TariffVersion,
    TariffVersions, TouPeriod,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn start() -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn tariff(which: u8) -> TariffVersions {
    let from = Shanghai
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let version = match which {
        0 => TariffVersion::flat(from, dec!(0.538)),
        1 => TariffVersion::residential_example(from, false),
        2 => TariffVersion::residential_example(from, true),
        _ => TariffVersion::commercial_tou_example(from),
    };
    TariffVersions::new(vec![version]).unwrap()
}

fn ctx(tariffs: &TariffVersions) -> RatingContext<'_> {
    RatingContext {
        ct_ratio: Decimal::ONE,
        tariffs,
        tz: Shanghai,
        max_register_power_kw: dec!(1000000),
    }
}

fn reading(ts: DateTime<Utc>, wh: i64) -> MeterReading {
    MeterReading {
        ts,
        total: Energy::from_wh(wh),
        tou: None,
    }
}

fn rated(outcome: Outcome) -> Rated {
    match outcome {
        Outcome::Rated(rated) => rated,
        other => panic!("expected Rated, got {other:?}"),
    }
}

fn initial(offset_min: i64, base_wh: i64, used_kwh: u32) -> RatingState {
    let mut state =
        RatingState::baseline(&reading(start() + TimeDelta::minutes(offset_min), base_wh));
    state.cycle = Some(CycleUsage {
        key: CycleKey {
            year: 2026,
            month: None,
        },
        kwh: Energy::new(Decimal::from(used_kwh)),
    });
    state
}

/// Rates `steps` (minutes later, Wh more) one by one and as one rise; returns both posted
/// totals and final states.
fn one_by_one_and_whole(
    tariffs: &TariffVersions,
    state: &RatingState,
    steps: &[(i64, i64)],
) -> ((Money, RatingState), (Money, RatingState)) {
    let c = ctx(tariffs);
    let (mut ts, mut wh) = (state.last_ts, state.last_total.to_wh().unwrap());
    let mut current = state.clone();
    let mut posted = Money::ZERO;
    for (minutes, more) in steps {
        ts += TimeDelta::minutes(*minutes);
        wh += more;
        let r = rated(rate(Some(&current), &reading(ts, wh), &c).unwrap());
        posted += r.post;
        current = r.new_state;
    }
    let whole = rated(rate(Some(state), &reading(ts, wh), &c).unwrap());
    ((posted, current), (whole.post, whole.new_state))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Flat and tiered prices depend only on how much was used, so any split of a rise posts
    /// the same total, to the fen and to the last decimal of the exact charge.
    #[test]
    fn any_split_posts_the_same_total_flat_and_tiered(
        which in 0u8..2,
        used in 0u32..6000,
        base in 0i64..10_000_000,
        offset in 0i64..1440,
        steps in prop::collection::vec((1i64..3000, 0i64..400_000), 1..8),
    ) {
        let tariffs = tariff(which);
        let state = initial(offset, base, used);
        let ((split_post, split_state), (whole_post, whole_state)) =
            one_by_one_and_whole(&tariffs, &state, &steps);
        prop_assert_eq!(split_post, whole_post);
        prop_assert_eq!(split_state.exact_charge, whole_state.exact_charge);
        prop_assert_eq!(split_state.posted, whole_state.posted);
        prop_assert_eq!(split_state.cycle, whole_state.cycle);
    }

    /// With time-of-use pro rata, a steady load read at any minutes posts the same total as
    /// the whole rise (the split readings agree with the time shares).
    #[test]
    fn any_split_of_a_steady_load_posts_the_same_total_tou(
        which in 2u8..4,
        used in 0u32..6000,
        offset in 0i64..1440,
        wh_per_minute in 0i64..500,
        gaps in prop::collection::vec(1i64..3000, 1..8),
    ) {
        let tariffs = tariff(which);
        let state = initial(offset, 0, used);
        let steps: Vec<(i64, i64)> = gaps.iter().map(|g| (*g, g * wh_per_minute)).collect();
        let ((split_post, split_state), (whole_post, whole_state)) =
            one_by_one_and_whole(&tariffs, &state, &steps);
        prop_assert_eq!(split_post, whole_post);
        prop_assert_eq!(split_state.exact_charge, whole_state.exact_charge);
    }

    /// A rise across tier bounds is split exactly: pieces sum to the rise, and each piece lies
    /// inside its tier's `(lo, hi]`.
    #[test]
    fn tier_splits_are_exact(used_wh in 0i64..8_000_000, rise_wh in 0i64..8_000_000) {
        let tariffs = tariff(1);
        let domain::Pricing::Tiered { tiers: list, .. } = &tariffs.versions()[0].pricing else {
            panic!("residential example is tiered");
        };
        let used = Energy::from_wh(used_wh).kwh();
        let rise = Energy::from_wh(rise_wh).kwh();
        let pieces = tiers::split(list, used, rise);
        prop_assert_eq!(pieces.iter().map(|p| p.kwh).sum::<Decimal>(), rise);
        let mut at = used;
        for piece in &pieces {
            let index = usize::from(piece.tier - 1);
            let lo = if index == 0 { Decimal::ZERO } else { list[index - 1].up_to.unwrap().kwh() };
            prop_assert!(at >= lo);
            at += piece.kwh;
            if let Some(hi) = list[index].up_to {
                prop_assert!(at <= hi.kwh());
            }
            prop_assert_eq!(piece.price, list[index].price);
        }
    }

    /// Without registers, the rise is spread over the periods the interval covers: the kWh of
    /// all lines sum to the rise, and each period gets its share of the minutes.
    #[test]
    fn tou_pro_rata_covers_the_interval_exactly(
        offset in 0i64..1440,
        minutes in 1i64..5000,
        wh in 0i64..1_000_000,
    ) {
        let tariffs = tariff(3);
        let state = initial(offset, 0, 0);
        let end = state.last_ts + TimeDelta::minutes(minutes);
        let r = rated(rate(Some(&state), &reading(end, wh), &ctx(&tariffs)).unwrap());
        let rise = Energy::from_wh(wh).kwh();
        prop_assert_eq!(r.lines.iter().map(|l| l.kwh.kwh()).sum::<Decimal>(), rise);

        let rates = tariffs.versions()[0].tou_rates().unwrap();
        for period in TouPeriod::ALL {
            let covered = (0..minutes)
                .map(|m| state.last_ts + TimeDelta::minutes(m))
                .filter(|t| {
                    let local = t.with_timezone(&Shanghai);
                    let minute = u16::try_from(
                        chrono::Timelike::num_seconds_from_midnight(&local) / 60,
                    ).unwrap();
                    rates.period_at(minute) == Some(period)
                })
                .count();
            let expected = rise * Decimal::from(covered) / Decimal::from(minutes);
            let got: Decimal = r.lines.iter().filter(|l| l.period == Some(period)).map(|l| l.kwh.kwh()).sum();
            prop_assert!((got - expected).abs() < dec!(0.000000001), "{period:?}: {got} vs {expected}");
        }
    }
}
