//! The example tariffs of ARCHITECTURE.md, shaped like Chinese ones, for the demo and tests.
//! Real values are configuration; these only have to be plausible and valid.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{PeriodPrice, Pricing, TariffVersion, Tier, TierCycle, TouPeriod, TouRange, TouRates};
use crate::local_time::LocalTime;
use crate::money::Energy;

/// `Decimal` from a mantissa and a scale: `dec(538, 3)` = 0.538.
fn dec(mantissa: i64, scale: u32) -> Decimal {
    Decimal::new(mantissa, scale)
}

fn at(hour: u16) -> LocalTime {
    // Whole hours 0..=24 are always valid times of day.
    LocalTime::hm(hour, 0).unwrap_or(LocalTime::MIDNIGHT)
}

fn range(period: TouPeriod, start: u16, end: u16) -> TouRange {
    TouRange {
        period,
        start: at(start),
        end: at(end),
    }
}

fn price(period: TouPeriod, price: Decimal) -> PeriodPrice {
    PeriodPrice { period, price }
}

impl TariffVersion {
    /// Residential tiered, yearly cycle: (0, 2760] kWh ¥0.538, (2760, 4800] ¥0.588, above
    /// ¥0.838; with `tou`, peak 08:00–22:00 +¥0.03 and valley 22:00–08:00 −¥0.25 on top.
    pub fn residential_example(effective_from: DateTime<Utc>, tou: bool) -> Self {
        let tou_adjustment = tou.then(|| TouRates {
            ranges: vec![
                range(TouPeriod::Peak, 8, 22),
                range(TouPeriod::Valley, 22, 8),
            ],
            prices: vec![
                price(TouPeriod::Peak, dec(3, 2)),
                price(TouPeriod::Valley, dec(-25, 2)),
            ],
        });
        TariffVersion {
            effective_from,
            pricing: Pricing::Tiered {
                cycle: TierCycle::Yearly,
                tiers: vec![
                    Tier {
                        up_to: Some(Energy::new(Decimal::from(2760))),
                        price: dec(538, 3),
                    },
                    Tier {
                        up_to: Some(Energy::new(Decimal::from(4800))),
                        price: dec(588, 3),
                    },
                    Tier {
                        up_to: None,
                        price: dec(838, 3),
                    },
                ],
                tou_adjustment,
            },
            service_charges: Vec::new(),
        }
    }

    /// Commercial time-of-use: sharp 19–21 ¥1.35; peak 08–11, 18–19, 21–23 ¥1.10; flat 11–18
    /// ¥0.70; valley 23–08 ¥0.33.
    pub fn commercial_tou_example(effective_from: DateTime<Utc>) -> Self {
        TariffVersion {
            effective_from,
            pricing: Pricing::TimeOfUse {
                rates: TouRates {
                    ranges: vec![
                        range(TouPeriod::Sharp, 19, 21),
                        range(TouPeriod::Peak, 8, 11),
                        range(TouPeriod::Peak, 18, 19),
                        range(TouPeriod::Peak, 21, 23),
                        range(TouPeriod::Flat, 11, 18),
                        range(TouPeriod::Valley, 23, 8),
                    ],
                    prices: vec![
                        price(TouPeriod::Sharp, dec(135, 2)),
                        price(TouPeriod::Peak, dec(110, 2)),
                        price(TouPeriod::Flat, dec(70, 2)),
                        price(TouPeriod::Valley, dec(33, 2)),
                    ],
                },
            },
            service_charges: Vec::new(),
        }
    }

    /// A flat price for all consumption.
    pub fn flat(effective_from: DateTime<Utc>, price: Decimal) -> Self {
        TariffVersion {
            effective_from,
            pricing: Pricing::Flat { price },
            service_charges: Vec::new(),
        }
    }
}
