//! The dashboard's charts (web UI spec §9) from metric answers: bars for counts, stacked
//! bars for churn (additions above the axis, deletions below), p50 (solid) and p90 (dashed)
//! lines for durations and sizes, a step line for WIP, and a horizontal stacked bar of the
//! window's median PR phases. Each chart also gets a sentence for screen readers, tooltips
//! per mark and a data table, and says "No … in this range." instead of drawing nothing.

use app::analytics::window::Grain;
use app::analytics::{MetricAnswer, Point};
use chrono::NaiveDate;

use super::format::{self, TimeUnit};
use super::svg::{self, Bands, Bar, Dot, Plot, Scale, axis, bar_rect, frame, n, polylines};

/// A legend entry: the series' CSS class and its name.
#[derive(Debug, Clone)]
pub(crate) struct Legend {
    pub class: &'static str,
    pub label: &'static str,
}

/// The "Show data" table of a chart.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// One chart of the page.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    /// The element id stem (`chart-<id>`), also `data-chart`.
    pub id: &'static str,
    /// `bars`, `churn`, `lines`, `steps` or `phases` (`data-kind`).
    pub kind: &'static str,
    pub title: &'static str,
    /// What the chart shows in one sentence (the SVG's description; also shown below it).
    pub summary: String,
    pub legend: Vec<Legend>,
    /// `None` when there is nothing to draw: the template shows `empty` instead.
    pub plot: Option<Plot>,
    pub empty: String,
    pub table: Table,
}

/// The window the charts describe, for their sentences and labels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub grain: Grain,
}

impl Span {
    fn words(&self) -> String {
        format!(
            "from {} to {}",
            format::long_day(self.from),
            format::long_day(self.to)
        )
    }

    fn per(&self) -> &'static str {
        match self.grain {
            Grain::Day => "day",
            Grain::Week => "week",
        }
    }

    fn bucket_label(&self, d: NaiveDate) -> String {
        match self.grain {
            Grain::Day => format::short_day(d),
            Grain::Week => format!("Week of {}", format::short_day(d)),
        }
    }
}

/// The first day of a point's bucket.
fn day_of(p: &Point) -> NaiveDate {
    p.bucket_start
        .get(..10)
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .unwrap_or_default()
}

fn stat(p: &Point, key: &str) -> Option<f64> {
    p.stats.get(key).and_then(serde_json::Value::as_f64)
}

fn summary_stat(a: &MetricAnswer, key: &str) -> Option<f64> {
    a.summary.get(key).and_then(serde_json::Value::as_f64)
}

fn x_labels(bands: &Bands, days: &[NaiveDate]) -> Vec<svg::XLabel> {
    bands.labels(|i| {
        days.get(i)
            .map(|d| format::short_day(*d))
            .unwrap_or_default()
    })
}

fn empty_chart(
    id: &'static str,
    kind: &'static str,
    title: &'static str,
    what: &str,
    span: &Span,
) -> Chart {
    Chart {
        id,
        kind,
        title,
        summary: format!("No {what} {}.", span.words()),
        legend: Vec::new(),
        plot: None,
        empty: format!("No {what} in this range."),
        table: Table::default(),
    }
}

/// Vertical bars of a count per bucket (commits, PRs merged, items completed).
pub(crate) fn bars(
    id: &'static str,
    title: &'static str,
    what: &'static str,
    a: &MetricAnswer,
    span: &Span,
) -> Chart {
    let days: Vec<NaiveDate> = a.points.iter().map(day_of).collect();
    let values: Vec<f64> = a
        .points
        .iter()
        .map(|p| stat(p, "value").unwrap_or(0.0))
        .collect();
    let total: f64 = values.iter().sum();
    if total <= 0.0 {
        return empty_chart(id, "bars", title, what, span);
    }
    let max = values.iter().copied().fold(0.0, f64::max);
    let (top, ticks) = axis(max, true);
    let scale = Scale::new(0.0, top);
    let bands = Bands::new(values.len());
    let mut plot = frame(&scale, &ticks, format::count, x_labels(&bands, &days));
    let mut table = Table {
        headers: vec!["Bucket", title],
        rows: Vec::new(),
    };
    for (i, (d, v)) in days.iter().zip(&values).enumerate() {
        let (x, w) = bands.bar(i);
        let (x, y, w, h) = bar_rect(&scale, x, w, *v);
        let label = span.bucket_label(*d);
        plot.bars.push(Bar {
            x,
            y,
            w,
            h,
            class: "s1",
            title: format!("{label}: {} {what}", format::count(*v)),
            bucket: d.to_string(),
            value: format::count(*v).replace(',', ""),
        });
        table.rows.push(vec![label, format::count(*v)]);
    }
    let busiest = days
        .iter()
        .zip(&values)
        .fold((NaiveDate::default(), -1.0), |best, (d, v)| {
            if *v > best.1 { (*d, *v) } else { best }
        });
    Chart {
        id,
        kind: "bars",
        title,
        summary: format!(
            "{} {what} {}, at most {} in one {} ({}).",
            format::count(total),
            span.words(),
            format::count(busiest.1),
            span.per(),
            span.bucket_label(busiest.0)
        ),
        legend: vec![Legend {
            class: "s1",
            label: title,
        }],
        plot: Some(plot),
        empty: String::new(),
        table,
    }
}

/// Churn: additions above the axis, deletions below, per bucket.
pub(crate) fn churn(additions: &MetricAnswer, deletions: &MetricAnswer, span: &Span) -> Chart {
    const TITLE: &str = "Churn (lines added and deleted)";
    let days: Vec<NaiveDate> = additions.points.iter().map(day_of).collect();
    let add: Vec<f64> = additions
        .points
        .iter()
        .map(|p| stat(p, "value").unwrap_or(0.0))
        .collect();
    let del: Vec<f64> = deletions
        .points
        .iter()
        .map(|p| stat(p, "value").unwrap_or(0.0))
        .collect();
    let (total_add, total_del): (f64, f64) = (add.iter().sum(), del.iter().sum());
    if total_add + total_del <= 0.0 {
        return empty_chart("churn", "churn", TITLE, "changed lines", span);
    }
    let (top, up) = axis(add.iter().copied().fold(0.0, f64::max), true);
    let (bottom, down) = axis(del.iter().copied().fold(0.0, f64::max), true);
    let scale = Scale::new(-bottom, top);
    let mut ticks: Vec<f64> = down.iter().rev().map(|t| -t).collect();
    ticks.extend(up.iter().skip(1));
    let bands = Bands::new(days.len());
    let label = |v: f64| format::count(v.abs());
    let mut plot = frame(&scale, &ticks, label, x_labels(&bands, &days));
    let mut table = Table {
        headers: vec!["Bucket", "Lines added", "Lines deleted"],
        rows: Vec::new(),
    };
    for (i, d) in days.iter().enumerate() {
        let (a, r) = (
            add.get(i).copied().unwrap_or(0.0),
            del.get(i).copied().unwrap_or(0.0),
        );
        let (x, w) = bands.bar(i);
        let bucket = span.bucket_label(*d);
        let title = format!(
            "{bucket}: {} added, {} deleted",
            format::count(a),
            format::count(r)
        );
        for (v, class) in [(a, "s1"), (-r, "s2")] {
            let (x, y, w, h) = bar_rect(&scale, x, w, v);
            plot.bars.push(Bar {
                x,
                y,
                w,
                h,
                class,
                title: title.clone(),
                bucket: d.to_string(),
                value: format!("{v}"),
            });
        }
        table
            .rows
            .push(vec![bucket, format::count(a), format::count(r)]);
    }
    Chart {
        id: "churn",
        kind: "churn",
        title: TITLE,
        summary: format!(
            "{} lines added and {} deleted {}.",
            format::count(total_add),
            format::count(total_del),
            span.words()
        ),
        legend: vec![
            Legend {
                class: "s1",
                label: "Added (above the axis)",
            },
            Legend {
                class: "s2",
                label: "Deleted (below the axis)",
            },
        ],
        plot: Some(plot),
        empty: String::new(),
        table,
    }
}

/// How a line chart writes its values.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Measure {
    /// Seconds, shown in hours or days.
    Duration,
    /// Lines of code.
    Lines,
}

/// p50 (solid) and p90 (dashed) lines of a distribution per bucket.
pub(crate) fn percentiles(
    id: &'static str,
    title: &'static str,
    what: &'static str,
    measure: Measure,
    a: &MetricAnswer,
    span: &Span,
) -> Chart {
    let days: Vec<NaiveDate> = a.points.iter().map(day_of).collect();
    let p50: Vec<Option<f64>> = a.points.iter().map(|p| stat(p, "p50")).collect();
    let p90: Vec<Option<f64>> = a.points.iter().map(|p| stat(p, "p90")).collect();
    let counts: Vec<f64> = a
        .points
        .iter()
        .map(|p| stat(p, "count").unwrap_or(0.0))
        .collect();
    let items = summary_stat(a, "count").unwrap_or(0.0);
    if items <= 0.0 {
        return empty_chart(id, "lines", title, what, span);
    }
    let max = p50
        .iter()
        .chain(&p90)
        .flatten()
        .copied()
        .fold(0.0, f64::max);
    // Values in the axis unit: hours or days for durations, lines as they are.
    let (unit, suffix) = match measure {
        Measure::Duration => {
            let u = TimeUnit::for_max(max);
            (u.seconds(), u.suffix())
        }
        Measure::Lines => (1.0, "lines"),
    };
    let show = |v: f64| match measure {
        Measure::Duration => format::duration(v),
        Measure::Lines => format!("{} lines", format::count(v)),
    };
    let (top, ticks) = axis(max / unit, matches!(measure, Measure::Lines));
    let scale = Scale::new(0.0, top);
    let bands = Bands::new(days.len());
    let tick_label = |t: f64| format!("{} {suffix}", format::one_decimal(t));
    let mut plot = frame(&scale, &ticks, tick_label, x_labels(&bands, &days));
    let mut table = Table {
        headers: vec!["Bucket", "Items", "p50", "p90"],
        rows: Vec::new(),
    };
    let at = |i: usize, v: Option<f64>| v.map(|v| (bands.centre(i), scale.y(v / unit)));
    let line50: Vec<Option<(f64, f64)>> = p50.iter().enumerate().map(|(i, v)| at(i, *v)).collect();
    let line90: Vec<Option<(f64, f64)>> = p90.iter().enumerate().map(|(i, v)| at(i, *v)).collect();
    plot.lines.extend(polylines(&line90, "s2 dashed"));
    plot.lines.extend(polylines(&line50, "s1"));
    for (i, d) in days.iter().enumerate() {
        let bucket = span.bucket_label(*d);
        let count = counts.get(i).copied().unwrap_or(0.0);
        let (a50, a90) = (p50.get(i).copied().flatten(), p90.get(i).copied().flatten());
        let cell = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), show);
        let title = format!(
            "{bucket}: p50 {}, p90 {} ({} {what})",
            cell(a50),
            cell(a90),
            format::count(count)
        );
        for (point, class) in [(line50[i], "s1"), (line90[i], "s2")] {
            if let Some((x, y)) = point {
                plot.dots.push(Dot {
                    cx: n(x),
                    cy: n(y),
                    class,
                    title: title.clone(),
                });
            }
        }
        table
            .rows
            .push(vec![bucket, format::count(count), cell(a50), cell(a90)]);
    }
    let whole = |k: &str| summary_stat(a, k).map_or_else(|| "—".to_owned(), show);
    Chart {
        id,
        kind: "lines",
        title,
        summary: format!(
            "Over the window, p50 {} and p90 {}, from {} {what} {}.",
            whole("p50"),
            whole("p90"),
            format::count(items),
            span.words()
        ),
        legend: vec![
            Legend {
                class: "s1",
                label: "p50 (solid)",
            },
            Legend {
                class: "s2 dashed",
                label: "p90 (dashed)",
            },
        ],
        plot: Some(plot),
        empty: String::new(),
        table,
    }
}

/// Work in progress as a step line (the level at the end of each bucket), with the daily
/// average dashed on the week grain.
pub(crate) fn wip(a: &MetricAnswer, span: &Span) -> Chart {
    const TITLE: &str = "Work in progress";
    let days: Vec<NaiveDate> = a.points.iter().map(day_of).collect();
    let level: Vec<Option<f64>> = a.points.iter().map(|p| stat(p, "value")).collect();
    let mean: Vec<Option<f64>> = a.points.iter().map(|p| stat(p, "mean")).collect();
    let max = level
        .iter()
        .chain(&mean)
        .flatten()
        .copied()
        .fold(0.0, f64::max);
    if max <= 0.0 {
        return empty_chart("wip", "steps", TITLE, "work in progress", span);
    }
    let (top, ticks) = axis(max, true);
    let scale = Scale::new(0.0, top);
    let bands = Bands::new(days.len());
    let mut plot = frame(&scale, &ticks, format::count, x_labels(&bands, &days));
    let steps: Vec<Option<(f64, f64)>> = level
        .iter()
        .enumerate()
        .flat_map(|(i, v)| {
            let y = v.map(|v| scale.y(v));
            let left = bands.left(i);
            [y.map(|y| (left, y)), y.map(|y| (left + bands.width(), y))]
        })
        .collect();
    if span.grain == Grain::Week {
        let avg: Vec<Option<(f64, f64)>> = mean
            .iter()
            .enumerate()
            .map(|(i, v)| v.map(|v| (bands.centre(i), scale.y(v))))
            .collect();
        plot.lines.extend(polylines(&avg, "s2 dashed"));
    }
    plot.lines.extend(polylines(&steps, "s1"));
    let mut table = Table {
        headers: vec!["Bucket", "In progress at the end", "Daily average"],
        rows: Vec::new(),
    };
    for (i, d) in days.iter().enumerate() {
        let bucket = span.bucket_label(*d);
        let cell = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), format::one_decimal);
        let (l, m) = (level[i], mean.get(i).copied().flatten());
        if let Some(v) = l {
            plot.dots.push(Dot {
                cx: n(bands.centre(i)),
                cy: n(scale.y(v)),
                class: "s1",
                title: format!("{bucket}: {} in progress at the end", cell(Some(v))),
            });
        }
        table.rows.push(vec![bucket, cell(l), cell(m)]);
    }
    let last = level.iter().rev().flatten().next().copied().unwrap_or(0.0);
    let mut legend = vec![Legend {
        class: "s1",
        label: "At the end of each bucket",
    }];
    if span.grain == Grain::Week {
        legend.push(Legend {
            class: "s2 dashed",
            label: "Daily average (dashed)",
        });
    }
    Chart {
        id: "wip",
        kind: "steps",
        title: TITLE,
        summary: format!(
            "{} work items in progress at the end of the window, at most {} {}.",
            format::one_decimal(last),
            format::one_decimal(max),
            span.words()
        ),
        legend,
        plot: Some(plot),
        empty: String::new(),
        table,
    }
}
