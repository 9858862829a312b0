//! The tenant's usage chart: daily kWh as bars and the day's cost as a line on a second axis,
//! drawn on the server as SVG with plotters, like the manager's charts ([`super::chart`]).
//!
//! Rules it keeps: energy stays integer Wh and money integer fen all the way to the axes (no
//! floats near money); the SVG carries `role="img"` and a text label, and the page repeats the
//! numbers in a table for screen readers.

use chrono::NaiveDate;
use plotters::prelude::*;

const ENERGY: RGBColor = RGBColor(0x0b, 0x5c, 0xad);
const COST: RGBColor = RGBColor(0xc2, 0x41, 0x0c);

/// One day of the chart: its date, Wh used and fen charged.
pub type Day = (NaiveDate, i64, i64);

/// Bars of daily kWh and a line of daily cost over `days` (oldest first).
pub fn usage_chart(days: &[Day], title: &str, labels: (&str, &str)) -> anyhow::Result<String> {
    let n = u32::try_from(days.len()).unwrap_or(u32::MAX).max(1);
    // Headroom above the tallest bar, and at least 1 kWh / ¥1 so an empty month has an axis.
    let top_wh = days.iter().map(|d| d.1).max().unwrap_or(0).max(1_000);
    let top_wh = top_wh + top_wh / 10;
    let top_fen = days.iter().map(|d| d.2).max().unwrap_or(0).max(100);
    let top_fen = top_fen + top_fen / 10;
    let first = days.first().map(|d| d.0);
    let mut svg = String::new();
    {
        // A phone is ~330 px wide: the SVG scales with `width: 100%`, so labels stay readable.
        let root = SVGBackend::with_string(&mut svg, (480, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(58)
            .right_y_label_area_size(44)
            .build_cartesian_2d(0u32..n * 4, 0i64..top_wh)
            .map_err(draw_err)?
            .set_secondary_coord(0u32..n * 4, 0i64..top_fen);
        let day_label = |x: &u32| {
            first
                .map(|f| (f + chrono::Duration::days(i64::from(*x / 4))).format("%m-%d"))
                .map(|d| d.to_string())
                .unwrap_or_default()
        };
        let kwh_label = |wh: &i64| format!("{} kWh", wh / 1000);
        let yuan_label =
            |fen: &i64| format!("¥{}", domain::Money::from_fen(*fen).yuan().round_dp(0));
        let text = ("sans-serif", 15)
            .into_font()
            .color(&RGBColor(0x33, 0x3b, 0x44));
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(6)
            .x_label_formatter(&day_label)
            .y_labels(5)
            .y_label_formatter(&kwh_label)
            .label_style(text.clone())
            .light_line_style(RGBColor(0xe4, 0xe7, 0xeb))
            .draw()
            .map_err(draw_err)?;
        chart
            .configure_secondary_axes()
            .y_labels(5)
            .y_label_formatter(&yuan_label)
            .label_style(text)
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(days.iter().zip(0u32..).map(|(&(_, wh, _), i)| {
                Rectangle::new([(i * 4 + 1, 0), (i * 4 + 3, wh.max(0))], ENERGY.filled())
            }))
            .map_err(draw_err)?
            .label(labels.0)
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], ENERGY.filled()));
        chart
            .draw_secondary_series(LineSeries::new(
                days.iter()
                    .zip(0u32..)
                    .map(|(&(_, _, fen), i)| (i * 4 + 2, fen.max(0))),
                COST.stroke_width(2),
            ))
            .map_err(draw_err)?
            .label(labels.1)
            .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], COST.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(0xd5, 0xdb, 0xe1))
            .label_font(("sans-serif", 15))
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
    fn draws_kwh_bars_and_a_cost_line() {
        let first = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        let days: Vec<Day> = (0..30)
            .map(|i| {
                let day = first + chrono::Duration::days(i);
                if i == 29 {
                    (day, 12_500, 675)
                } else {
                    (day, 0, 0)
                }
            })
            .collect();
        let svg = usage_chart(&days, "用电 & 电费", ("用电量", "电费")).unwrap();
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"用电 &amp; 电费\""));
        assert!(svg.contains("用电量") && svg.contains("电费"));
        assert!(svg.contains("\n10-25\n"), "the first day is labelled");
        assert!(svg.contains("kWh"), "the left axis is in kWh");
        assert!(svg.contains("\n¥6\n"), "the right axis is in yuan: {svg}");
        assert!(svg.contains("<rect") && svg.contains("<polyline"));
    }
}
