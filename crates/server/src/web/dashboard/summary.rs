//! The window-level parts of the dashboard: the tiles (one number per delivery metric, from
//! the metric summaries) and the horizontal stacked bar of the window's median PR phases
//! (coding, pickup, review, merge; web UI spec §9 "PR phases").

use app::analytics::MetricAnswer;

use super::charts::{Chart, Legend, Span, Table};
use super::format;
use super::svg::{Bar, Plot, n};

/// One tile: a label, the window's value and what it counts.
#[derive(Debug, Clone)]
pub(crate) struct Tile {
    /// `data-tile`.
    pub id: &'static str,
    pub label: &'static str,
    pub value: String,
    pub detail: String,
}

fn total(a: &MetricAnswer) -> f64 {
    a.summary
        .get("value")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0)
}

fn stat(a: &MetricAnswer, key: &str) -> Option<f64> {
    a.summary.get(key).and_then(serde_json::Value::as_f64)
}

/// The metric answers the tiles read.
pub(crate) struct TileInputs<'a> {
    pub commits: &'a MetricAnswer,
    pub additions: &'a MetricAnswer,
    pub deletions: &'a MetricAnswer,
    pub pr_merged: &'a MetricAnswer,
    pub pr_cycle_time: &'a MetricAnswer,
    pub items_completed: &'a MetricAnswer,
    pub wip: &'a MetricAnswer,
}

/// Commits, churn, PRs merged, PR cycle p50, items completed and WIP over the window.
pub(crate) fn tiles(t: &TileInputs<'_>) -> Vec<Tile> {
    let (add, del) = (total(t.additions), total(t.deletions));
    let cycle_n = stat(t.pr_cycle_time, "count").unwrap_or(0.0);
    let wip_mean = stat(t.wip, "mean");
    vec![
        Tile {
            id: "commits",
            label: "Commits",
            value: format::count(total(t.commits)),
            detail: "non-merge commits".to_owned(),
        },
        Tile {
            id: "churn",
            label: "Churn",
            value: format::count(add + del),
            detail: format!(
                "{} added, {} deleted lines",
                format::count(add),
                format::count(del)
            ),
        },
        Tile {
            id: "pr_merged",
            label: "PRs merged",
            value: format::count(total(t.pr_merged)),
            detail: "pull requests".to_owned(),
        },
        Tile {
            id: "pr_cycle_p50",
            label: "PR cycle time p50",
            value: stat(t.pr_cycle_time, "p50").map_or_else(|| "—".to_owned(), format::duration),
            detail: format!("from {} merged PRs", format::count(cycle_n)),
        },
        Tile {
            id: "items_completed",
            label: "Items completed",
            value: format::count(total(t.items_completed)),
            detail: "work items".to_owned(),
        },
        Tile {
            id: "wip",
            label: "WIP",
            value: wip_mean.map_or_else(|| "—".to_owned(), format::one_decimal),
            detail: "work items in progress, daily average".to_owned(),
        },
    ]
}

/// The phases in order, with their series class.
const PHASES: [(&str, &str); 4] = [
    ("Coding", "s1"),
    ("Pickup", "s2"),
    ("Review", "s3"),
    ("Merge", "s4"),
];

/// The window's median coding, pickup, review and merge times as one stacked bar.
pub(crate) fn phases(answers: [&MetricAnswer; 4], span: &Span) -> Chart {
    const TITLE: &str = "PR cycle time phases (medians)";
    let medians: Vec<Option<f64>> = answers.iter().map(|a| stat(a, "p50")).collect();
    let sum: f64 = medians.iter().flatten().sum();
    let words = format!(
        "from {} to {}",
        format::long_day(span.from),
        format::long_day(span.to)
    );
    let cell = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), format::duration);
    let table = Table {
        headers: vec!["Phase", "Median", "PRs"],
        rows: PHASES
            .iter()
            .zip(medians.iter().zip(answers))
            .map(|((name, _), (m, a))| {
                vec![
                    (*name).to_owned(),
                    cell(*m),
                    format::count(stat(a, "count").unwrap_or(0.0)),
                ]
            })
            .collect(),
    };
    if medians.iter().all(Option::is_none) {
        return Chart {
            id: "pr_phases",
            kind: "phases",
            title: TITLE,
            summary: format!("No reviewed, merged pull requests {words}."),
            legend: Vec::new(),
            plot: None,
            empty: "No reviewed, merged pull requests in this range.".to_owned(),
            table: Table::default(),
        };
    }
    let (left, right, y, h) = (16.0, 624.0, 12.0, 28.0);
    let mut plot = Plot {
        width: n(640.0),
        height: n(52.0),
        x0: n(left),
        x1: n(right),
        baseline: n(y + h),
        ..Plot::default()
    };
    let mut x = left;
    for ((name, class), m) in PHASES.iter().zip(&medians) {
        let v = m.unwrap_or(0.0);
        let w = if sum > 0.0 {
            (right - left) * v / sum
        } else {
            0.0
        };
        plot.bars.push(Bar {
            x: n(x),
            y: n(y),
            w: n(w),
            h: n(h),
            class,
            title: format!("{name}: median {}", cell(*m)),
            bucket: (*name).to_lowercase(),
            value: format!("{v}"),
        });
        x += w;
    }
    let parts: Vec<String> = PHASES
        .iter()
        .zip(&medians)
        .map(|((name, _), m)| format!("{} {}", name.to_lowercase(), cell(*m)))
        .collect();
    Chart {
        id: "pr_phases",
        kind: "phases",
        title: TITLE,
        summary: format!("Median PR phases {words}: {}.", parts.join(", ")),
        legend: PHASES
            .iter()
            .map(|(label, class)| Legend { class, label })
            .collect(),
        plot: Some(plot),
        empty: String::new(),
        table,
    }
}
