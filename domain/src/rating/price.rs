//! Pricing consumption that has already been attributed to segments (and periods).
//!
//! Tiered pricing with a period adjustment is written as separate lines: tier lines (price of
//! the tier) and adjustment lines (the period's plus or minus), which is how Chinese bills show
//! it and keeps every tier split exact.

use chrono::Datelike;
use rust_decimal::Decimal;

use super::segments::Segment;
use super::state::CycleUsage;
use super::{pro_rata, ChargeLine, LineKind, RatingError, SHARE_DP};
use crate::money::Energy;
use crate::tariff::{tiers, Pricing, ServiceCharge, TierCycle, TouPeriod};

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Prices one segment's consumption, split by period, updating the cycle usage.
pub(crate) fn price_segment(
    segment: &Segment<'_>,
    pieces: &[(Option<TouPeriod>, Decimal)],
    cycle: &mut Option<CycleUsage>,
    tz: chrono_tz::Tz,
    lines: &mut Vec<ChargeLine>,
) -> Result<(), RatingError> {
    let version = segment.version;
    let mut energy_amount = Decimal::ZERO;
    for &(period, kwh) in pieces {
        if kwh.is_zero() {
            continue;
        }
        match &version.pricing {
            Pricing::Flat { price } => {
                energy_amount += push(lines, LineKind::Energy, None, None, kwh, *price);
            }
            Pricing::TimeOfUse { rates } => {
                let period = period.ok_or(RatingError::PeriodUnknown)?;
                let price = rates.price_of(period).ok_or(RatingError::PeriodUnknown)?;
                energy_amount += push(lines, LineKind::Energy, Some(period), None, kwh, price);
            }
            Pricing::Tiered {
                cycle: kind,
                tiers: tier_list,
                tou_adjustment,
            } => {
                let key = kind.key_of(segment.start.with_timezone(&tz).date_naive());
                let usage = match cycle {
                    Some(usage) if usage.key == key => usage,
                    _ => cycle.insert(CycleUsage {
                        key,
                        kwh: Energy::ZERO,
                    }),
                };
                for piece in tiers::split(tier_list, usage.kwh.kwh(), kwh) {
                    let kind = LineKind::Energy;
                    energy_amount +=
                        push(lines, kind, None, Some(piece.tier), piece.kwh, piece.price);
                }
                usage.kwh += Energy::new(kwh);
                if let Some(adjustment) = tou_adjustment {
                    let period = period.ok_or(RatingError::PeriodUnknown)?;
                    let price = adjustment
                        .price_of(period)
                        .ok_or(RatingError::PeriodUnknown)?;
                    let kind = LineKind::PeriodAdjustment;
                    energy_amount += push(lines, kind, Some(period), None, kwh, price);
                }
            }
        }
    }
    for charge in &version.service_charges {
        match *charge {
            ServiceCharge::PercentOfEnergy { percent } => {
                let amount = (energy_amount * percent / Decimal::ONE_HUNDRED).round_dp(SHARE_DP);
                push_amount(lines, LineKind::ServicePercent, percent, amount);
            }
            ServiceCharge::PerDay { amount } => {
                let yuan = amount.yuan();
                let accrued = pro_rata(yuan, segment.millis(), Decimal::from(MILLIS_PER_DAY));
                push_amount(lines, LineKind::ServicePerDay, yuan, accrued);
            }
            ServiceCharge::PerMonth { amount } => {
                let month = month_millis(segment, tz);
                let yuan = amount.yuan();
                let accrued = pro_rata(yuan, segment.millis(), Decimal::from(month));
                push_amount(lines, LineKind::ServicePerMonth, yuan, accrued);
            }
        }
    }
    Ok(())
}

/// Length of the local calendar month the segment lies in (segments never cross months when a
/// monthly charge exists).
fn month_millis(segment: &Segment<'_>, tz: chrono_tz::Tz) -> i64 {
    let local = segment.start.with_timezone(&tz).date_naive();
    let first = local.with_day0(0).unwrap_or(local);
    let start = tiers::local_midnight(first, tz);
    let next = TierCycle::Monthly.next_start(segment.start, tz);
    (next - start).num_milliseconds().max(1)
}

fn push(
    lines: &mut Vec<ChargeLine>,
    kind: LineKind,
    period: Option<TouPeriod>,
    tier: Option<u8>,
    kwh: Decimal,
    price: Decimal,
) -> Decimal {
    let amount = kwh * price;
    merge(
        lines,
        ChargeLine {
            kind,
            period,
            tier,
            kwh: Energy::new(kwh),
            price,
            amount_exact: amount,
        },
    );
    amount
}

fn push_amount(lines: &mut Vec<ChargeLine>, kind: LineKind, price: Decimal, amount: Decimal) {
    if amount.is_zero() {
        return;
    }
    merge(
        lines,
        ChargeLine {
            kind,
            period: None,
            tier: None,
            kwh: Energy::ZERO,
            price,
            amount_exact: amount,
        },
    );
}

/// Lines with the same kind, period, tier and price are one line on the bill.
fn merge(lines: &mut Vec<ChargeLine>, line: ChargeLine) {
    let same = lines.iter_mut().find(|l| {
        l.kind == line.kind
            && l.period == line.period
            && l.tier == line.tier
            && l.price == line.price
    });
    match same {
        Some(existing) => {
            existing.kwh += line.kwh;
            existing.amount_exact += line.amount_exact;
        }
        None => lines.push(line),
    }
}
