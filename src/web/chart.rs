//! The downloads chart: an inline SVG rendered on the server (no script), one bar per day
//! over the chosen window, with a text summary for screen readers.
use chrono::{Duration, NaiveDate};
use maud::{Markup, html};

const WIDTH: f64 = 300.0;
const HEIGHT: f64 = 110.0;
const AXIS: f64 = 16.0;

/// `daily`: (day, count) for days with downloads (others are zero), any order.
pub fn downloads_chart(daily: &[(NaiveDate, i64)], until: NaiveDate, days: i64) -> Markup {
    series_chart(daily, until, days, "downloads")
}

/// The same chart of any daily series; `noun` names what is counted ("bytes sent").
pub fn series_chart(daily: &[(NaiveDate, i64)], until: NaiveDate, days: i64, noun: &str) -> Markup {
    let days = days.max(1);
    let since = until - Duration::days(days - 1);
    let mut series = vec![0i64; days as usize];
    for (day, count) in daily {
        let offset = (*day - since).num_days();
        if (0..days).contains(&offset) {
            series[offset as usize] += count;
        }
    }
    let total: i64 = series.iter().sum();
    let max = series.iter().copied().max().unwrap_or(0).max(1);
    let slot = WIDTH / days as f64;
    let bar = (slot * 0.8).max(0.5);
    let plot = HEIGHT - AXIS;
    let label = format!("{total} {noun} in the last {days} days, at most {max} a day");
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(label)
            viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) {
            title { (label) }
            line.axis x1="0" y1=(plot) x2=(WIDTH) y2=(plot) {}
            @for (i, count) in series.iter().enumerate() {
                @if *count > 0 {
                    @let h = (*count as f64 / max as f64) * (plot - 4.0);
                    rect.bar x=(format!("{:.2}", i as f64 * slot)) y=(format!("{:.2}", plot - h))
                        width=(format!("{bar:.2}")) height=(format!("{h:.2}")) {
                        title { (since + Duration::days(i as i64)) ": " (count) }
                    }
                }
            }
            text x="0" y=(HEIGHT - 4.0) { (since) }
            text x=(WIDTH) y=(HEIGHT - 4.0) text-anchor="end" { (until) }
            text x="2" y="10" { "max " (max) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    #[test]
    fn one_bar_per_day_with_downloads_inside_the_window() {
        let svg = downloads_chart(
            &[
                (day("2026-12-01"), 4),
                (day("2026-11-30"), 2),
                (day("2026-01-01"), 99),
            ],
            day("2026-12-01"),
            30,
        )
        .into_string();
        assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        assert!(
            svg.contains("6 downloads in the last 30 days, at most 4 a day"),
            "{svg}"
        );
        assert!(svg.contains("2026-12-01: 4"), "{svg}");
        assert!(!svg.contains("99"), "{svg}");
        assert!(!svg.contains("<script"));
    }

    #[test]
    fn an_empty_series_is_an_empty_chart() {
        let svg = downloads_chart(&[], day("2026-12-01"), 365).into_string();
        assert_eq!(svg.matches("<rect").count(), 0);
        assert!(svg.contains("0 downloads in the last 365 days"));
    }
}
