//! From per-item samples to the points and summary of a metric (analytics spec §9.1): counts
//! and sums add up, percentiles are computed from the per-item values of each bucket and of
//! the whole window, ratios are ratios of sums, and a statistic over no items is null (a count
//! is 0).

use analytics::code::{CodeTotals, Commit, totals};
use analytics::percentile::Summary;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::window::{Window, midnight};

/// Which total of §9.3 a code metric reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeField {
    Commits,
    MergeCommits,
    Additions,
    Deletions,
    Churn,
    FilesChanged,
}

impl CodeField {
    fn of(self, t: &CodeTotals) -> u64 {
        match self {
            CodeField::Commits => t.commits,
            CodeField::MergeCommits => t.merge_commits,
            CodeField::Additions => t.additions,
            CodeField::Deletions => t.deletions,
            CodeField::Churn => t.churn,
            CodeField::FilesChanged => t.files_changed,
        }
    }
}

/// The samples of one metric in one window and scope.
#[derive(Debug, Clone)]
pub(crate) enum Series {
    /// One instant per counted item.
    Count(Vec<DateTime<Utc>>),
    /// One value per item (seconds or lines), at its bucket instant.
    Values(Vec<(DateTime<Utc>, f64)>),
    /// Commits with their files, at their commit instant.
    Code(Vec<(DateTime<Utc>, Commit)>, CodeField),
    /// The level at the end of each day of the window, in day order.
    Gauge(Vec<(NaiveDate, u64)>),
    /// `(instant, active, wait)` per item.
    Ratio(Vec<(DateTime<Utc>, f64, f64)>),
}

/// One bucket of a metric.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Point {
    /// The bucket's first instant (RFC 3339, UTC).
    pub bucket_start: String,
    /// The requested statistics (`count`, `p50`, …, `value`), null over no items.
    #[serde(flatten)]
    pub stats: Map<String, Value>,
}

fn opt(v: Option<f64>) -> Value {
    v.map_or(Value::Null, |x| json!(x))
}

fn distribution(values: &[f64]) -> Map<String, Value> {
    let s = Summary::of(values);
    let mut m = Map::new();
    m.insert("count".into(), json!(s.count));
    m.insert("p50".into(), opt(s.p50));
    m.insert("p75".into(), opt(s.p75));
    m.insert("p90".into(), opt(s.p90));
    m.insert("p95".into(), opt(s.p95));
    m.insert("mean".into(), opt(s.mean));
    m
}

fn count(n: usize) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("count".into(), json!(n));
    m.insert("value".into(), json!(n));
    m
}

fn ratio(items: &[(f64, f64)]) -> Map<String, Value> {
    let active: f64 = items.iter().map(|(a, _)| a).sum();
    let total: f64 = items.iter().map(|(a, w)| a + w).sum();
    let mut m = Map::new();
    m.insert("count".into(), json!(items.len()));
    m.insert("value".into(), opt((total > 0.0).then(|| active / total)));
    m
}

fn code(commits: &[&Commit], field: CodeField) -> Map<String, Value> {
    let t = totals(commits.iter().copied());
    let mut m = Map::new();
    // `count`: the non-merge commits behind the sum (merges for merge_commits).
    let n = match field {
        CodeField::MergeCommits => t.merge_commits,
        _ => t.commits,
    };
    m.insert("count".into(), json!(n));
    m.insert("value".into(), json!(field.of(&t)));
    m
}

fn gauge(days: &[u64]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "value".into(),
        days.last().map_or(Value::Null, |v| json!(v)),
    );
    let mean = (!days.is_empty()).then(|| days.iter().sum::<u64>() as f64 / days.len() as f64);
    m.insert("mean".into(), opt(mean));
    m
}

/// Groups `items` by the bucket of their instant; items outside the window are dropped.
fn by_bucket<T>(
    w: &Window,
    n: usize,
    items: impl IntoIterator<Item = (DateTime<Utc>, T)>,
) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = (0..n).map(|_| Vec::new()).collect();
    for (t, x) in items {
        if let Some(slot) = w.bucket_of(t).and_then(|b| out.get_mut(b)) {
            slot.push(x);
        }
    }
    out
}

/// The points (one per bucket) and the window summary of `series`, keeping only `stats`.
pub(crate) fn compute(
    w: &Window,
    series: &Series,
    stats: &[&str],
) -> (Vec<Point>, Map<String, Value>) {
    let starts = w.bucket_starts();
    let n = starts.len();
    let (cells, summary): (Vec<Map<String, Value>>, Map<String, Value>) = match series {
        Series::Count(ts) => {
            let b = by_bucket(w, n, ts.iter().map(|t| (*t, ())));
            let total = b.iter().map(Vec::len).sum();
            (b.iter().map(|v| count(v.len())).collect(), count(total))
        }
        Series::Values(vs) => {
            let b = by_bucket(w, n, vs.iter().copied());
            let all: Vec<f64> = b.iter().flatten().copied().collect();
            (
                b.iter().map(|v| distribution(v)).collect(),
                distribution(&all),
            )
        }
        Series::Code(cs, field) => {
            let b = by_bucket(w, n, cs.iter().map(|(t, c)| (*t, c)));
            let all: Vec<&Commit> = b.iter().flatten().copied().collect();
            (
                b.iter().map(|v| code(v, *field)).collect(),
                code(&all, *field),
            )
        }
        Series::Gauge(days) => {
            let mut b: Vec<Vec<u64>> = (0..n).map(|_| Vec::new()).collect();
            for (d, v) in days {
                if let Some(slot) = w.bucket_of_day(*d).and_then(|i| b.get_mut(i)) {
                    slot.push(*v);
                }
            }
            let all: Vec<u64> = b.iter().flatten().copied().collect();
            (b.iter().map(|v| gauge(v)).collect(), gauge(&all))
        }
        Series::Ratio(rs) => {
            let b = by_bucket(w, n, rs.iter().map(|(t, a, wt)| (*t, (*a, *wt))));
            let all: Vec<(f64, f64)> = b.iter().flatten().copied().collect();
            (b.iter().map(|v| ratio(v)).collect(), ratio(&all))
        }
    };
    let keep = |m: Map<String, Value>| -> Map<String, Value> {
        m.into_iter()
            .filter(|(k, _)| stats.contains(&k.as_str()))
            .collect()
    };
    let points = starts
        .iter()
        .zip(cells)
        .map(|(d, cell)| Point {
            bucket_start: midnight(*d).to_rfc3339_opts(SecondsFormat::Secs, true),
            stats: keep(cell),
        })
        .collect();
    (points, keep(summary))
}
