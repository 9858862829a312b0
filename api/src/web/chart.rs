//! Charts drawn on the server as SVG with plotters: daily charges and top-ups as bars.
//!
//! Rules it keeps: amounts stay integer fen all the way to the axis (no floats near money);
//! the SVG carries `role="img"` and a text label, so screen readers announce what it shows.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use plotters::prelude::*;

const CHARGE: RGBColor = RGBColor(0xc2, 0x41, 0x0c);
const TOPUP: RGBColor = RGBColor(0x0b, 0x5c, 0xad);
const ENERGY: RGBColor = RGBColor(0x2f, 0x7d, 0x32);

/// Bars of daily charges and top-ups (fen) for `days` days ending with `last`.
pub fn daily_bars(
    sums: &BTreeMap<NaiveDate, (i64, i64)>,
    last: NaiveDate,
    days: u32,
    title: &str,
    labels: (&str, &str),
) -> anyhow::Result<String> {
    let first = last - Duration::days(i64::from(days) - 1);
    let values: Vec<(u32, i64, i64)> = (0..days)
        .map(|i| {
            let day = first + Duration::days(i64::from(i));
            let (charge, topup) = sums.get(&day).copied().unwrap_or_default();
            (i, charge.max(0), topup.max(0))
        })
        .collect();
    let top = values
        .iter()
        .map(|&(_, c, t)| c.max(t))
        .max()
        .unwrap_or(0)
        .max(1_000);
    // A little headroom above the tallest bar.
    let top = top + top / 10;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 280)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(64)
            .build_cartesian_2d(0u32..days * 3, 0i64..top)
            .map_err(draw_err)?;
        let day_label = |x: &u32| {
            let day = first + Duration::days(i64::from(*x / 3));
            day.format("%m-%d").to_string()
        };
        let yuan_label =
            |fen: &i64| format!("¥{}", domain::Money::from_fen(*fen).yuan().round_dp(0));
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(8)
            .x_label_formatter(&day_label)
            .y_labels(5)
            .y_label_formatter(&yuan_label)
            .label_style(
                ("sans-serif", 13)
                    .into_font()
                    .color(&RGBColor(0x33, 0x3b, 0x44)),
            )
            .light_line_style(RGBColor(0xe4, 0xe7, 0xeb))
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(
                values.iter().map(|&(i, c, _)| {
                    Rectangle::new([(i * 3, 0), (i * 3 + 1, c)], CHARGE.filled())
                }),
            )
            .map_err(draw_err)?
            .label(labels.0)
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], CHARGE.filled()));
        chart
            .draw_series(
                values.iter().map(|&(i, _, t)| {
                    Rectangle::new([(i * 3 + 1, 0), (i * 3 + 2, t)], TOPUP.filled())
                }),
            )
            .map_err(draw_err)?
            .label(labels.1)
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], TOPUP.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(0xd5, 0xdb, 0xe1))
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    let label = escape_attr(title);
    Ok(svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{label}\" "),
        1,
    ))
}

/// Bars of daily energy (Wh, shown in kWh) for `days` days ending with `last`.
pub fn daily_energy(
    wh: &BTreeMap<NaiveDate, i64>,
    last: NaiveDate,
    days: u32,
    title: &str,
) -> anyhow::Result<String> {
    let first = last - Duration::days(i64::from(days) - 1);
    let values: Vec<(u32, i64)> = (0..days)
        .map(|i| {
            let day = first + Duration::days(i64::from(i));
            (i, wh.get(&day).copied().unwrap_or_default().max(0))
        })
        .collect();
    let top = values.iter().map(|&(_, v)| v).max().unwrap_or(0).max(1_000);
    let top = top + top / 10;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 240)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(72)
            .build_cartesian_2d(0u32..days * 2, 0i64..top)
            .map_err(draw_err)?;
        let day_label = |x: &u32| {
            let day = first + Duration::days(i64::from(*x / 2));
            day.format("%m-%d").to_string()
        };
        // Wh to kWh by the decimal point, not by floating division.
        let kwh_label =
            |wh: &i64| format!("{} kWh", rust_decimal::Decimal::new(*wh, 3).round_dp(1));
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(8)
            .x_label_formatter(&day_label)
            .y_labels(5)
            .y_label_formatter(&kwh_label)
            .label_style(
                ("sans-serif", 13)
                    .into_font()
                    .color(&RGBColor(0x33, 0x3b, 0x44)),
            )
            .light_line_style(RGBColor(0xe4, 0xe7, 0xeb))
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(
                values
                    .iter()
                    .map(|&(i, v)| Rectangle::new([(i * 2, 0), (i * 2 + 1, v)], ENERGY.filled())),
            )
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    let label = escape_attr(title);
    Ok(svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{label}\" "),
        1,
    ))
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing chart: {e:?}")
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_bars_and_labels() {
        let last = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let mut sums = BTreeMap::new();
        sums.insert(last, (1234, 5000));
        let svg = daily_bars(&sums, last, 30, "用电 & 充值", ("电费", "充值")).unwrap();
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"用电 &amp; 充值\""));
        assert!(svg.contains("电费") && svg.contains("充值"));
        assert!(svg.contains("\n10-25\n"), "the first day is labelled");
        assert!(svg.contains("\n¥40\n"), "the axis is in yuan");
        assert!(svg.contains("<rect"));
    }

    #[test]
    fn draws_energy_in_kwh() {
        let last = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let mut wh = BTreeMap::new();
        wh.insert(last, 12_500);
        let svg = daily_energy(&wh, last, 30, "每日用电").unwrap();
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"每日用电\""));
        assert!(svg.contains(" kWh\n"), "the axis is in kWh: {svg}");
    }
}
