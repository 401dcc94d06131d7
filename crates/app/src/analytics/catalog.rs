//! The metric catalog (analytics spec §9, §14 `GET /api/v1/metrics`): every metric's key,
//! unit, population and the statistics it supports. One table, so the API listing, the query
//! validation and the computation can never disagree about a metric.

use serde::Serialize;

/// How a metric's per-bucket values are formed, which decides the statistics it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Items counted per bucket; counts add up across buckets.
    Count,
    /// A sum over the bucket's commits (`files_changed`: distinct paths of the bucket).
    Sum,
    /// Per-item values (durations in seconds, sizes in lines): percentiles come from the
    /// per-item values of each bucket and of the whole window, never from other percentiles.
    Distribution,
    /// A level at each day's end; a bucket's value is its last day's, `mean` the daily mean.
    Gauge,
    /// A ratio of sums over the bucket's items.
    Ratio,
}

impl Kind {
    /// The statistics this kind can answer.
    pub const fn stats(self) -> &'static [&'static str] {
        match self {
            Kind::Count | Kind::Sum | Kind::Ratio => &["count", "value"],
            Kind::Distribution => &["count", "p50", "p75", "p90", "p95", "mean"],
            Kind::Gauge => &["value", "mean"],
        }
    }

    /// The statistics answered when the request names none.
    pub const fn default_stats(self) -> &'static [&'static str] {
        match self {
            Kind::Count | Kind::Sum | Kind::Ratio => &["count", "value"],
            Kind::Distribution => &["count", "p50", "p90", "mean"],
            Kind::Gauge => &["value", "mean"],
        }
    }
}

/// Every scope a metric can be asked for (§9.1).
pub const SCOPES: [&str; 4] = ["org", "repo", "team", "person"];

/// One metric of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MetricDef {
    /// The API key (`pr_cycle_time`).
    pub key: &'static str,
    /// `commits`, `lines`, `files`, `prs`, `reviews`, `items`, `seconds` or `ratio`.
    pub unit: &'static str,
    /// How its values are formed.
    pub kind: Kind,
    /// Which rows it reads and the time that buckets them (§9.3–§9.5).
    pub population: &'static str,
}

const fn m(
    key: &'static str,
    unit: &'static str,
    kind: Kind,
    population: &'static str,
) -> MetricDef {
    MetricDef {
        key,
        unit,
        kind,
        population,
    }
}

use Kind::{Count, Distribution, Gauge, Ratio, Sum};

/// The catalog, in the order of the spec's tables.
pub const CATALOG: &[MetricDef] = &[
    m(
        "commits",
        "commits",
        Count,
        "Commits with at most one parent, by committed_at; the org counts each sha once",
    ),
    m(
        "merge_commits",
        "commits",
        Count,
        "Commits with more than one parent, by committed_at",
    ),
    m(
        "additions",
        "lines",
        Sum,
        "Added lines of non-binary, non-excluded files of non-merge commits, by committed_at",
    ),
    m(
        "deletions",
        "lines",
        Sum,
        "Deleted lines of non-binary, non-excluded files of non-merge commits, by committed_at",
    ),
    m(
        "churn",
        "lines",
        Sum,
        "additions + deletions, by committed_at",
    ),
    m(
        "files_changed",
        "files",
        Sum,
        "Distinct paths touched by non-merge commits in the bucket, by committed_at",
    ),
    m("pr_opened", "prs", Count, "PRs by created_at"),
    m("pr_merged", "prs", Count, "Merged PRs by merged_at"),
    m(
        "pr_cycle_time",
        "seconds",
        Distribution,
        "Merged PRs by merged_at: merged_at − created_at",
    ),
    m(
        "pr_lead_time",
        "seconds",
        Distribution,
        "Merged PRs with a first commit, by merged_at: merged_at − min(first commit, created_at)",
    ),
    m(
        "pr_coding_time",
        "seconds",
        Distribution,
        "Merged PRs with a first commit, by merged_at: created_at − min(first commit, created_at)",
    ),
    m(
        "pr_pickup_time",
        "seconds",
        Distribution,
        "Merged PRs reviewed before merge, by merged_at: first review − created_at",
    ),
    m(
        "pr_review_time",
        "seconds",
        Distribution,
        "Merged PRs reviewed before merge, by merged_at: last approval − first review",
    ),
    m(
        "pr_merge_time",
        "seconds",
        Distribution,
        "Merged PRs reviewed before merge, by merged_at: merged_at − last approval",
    ),
    m(
        "pr_merged_without_review",
        "prs",
        Count,
        "Merged PRs with no non-self review before the merge, by merged_at",
    ),
    m(
        "pr_size",
        "lines",
        Distribution,
        "Merged PRs with a known size, by merged_at: additions + deletions",
    ),
    m(
        "review_latency",
        "seconds",
        Distribution,
        "Open or merged non-draft PRs, by first review: first review − created_at",
    ),
    m(
        "reviews_given",
        "reviews",
        Count,
        "Non-self reviews by submitted_at, attributed to the reviewer",
    ),
    m(
        "pr_wip",
        "prs",
        Gauge,
        "Open non-draft PRs at each day's end",
    ),
    m(
        "items_completed",
        "items",
        Count,
        "Work items by completed_at (canceled items are not throughput)",
    ),
    m(
        "items_canceled",
        "items",
        Count,
        "Work items by canceled_at",
    ),
    m("items_created", "items", Count, "Work items by created_at"),
    m(
        "wip",
        "items",
        Gauge,
        "Work items in progress, in review or blocked at each day's end",
    ),
    m(
        "wip_age",
        "seconds",
        Distribution,
        "WIP items with a start at each bucket's last day end: day_end − started_at",
    ),
    m(
        "item_cycle_time",
        "seconds",
        Distribution,
        "Completed items with a start, by completed_at: completed_at − started_at",
    ),
    m(
        "item_lead_time",
        "seconds",
        Distribution,
        "Completed items by completed_at: completed_at − created_at",
    ),
    m(
        "flow_efficiency",
        "ratio",
        Ratio,
        "Completed items with a transition-derived start, by completed_at: Σ active / Σ (active + wait)",
    ),
];

/// The metric named `key`.
pub fn find(key: &str) -> Option<&'static MetricDef> {
    CATALOG.iter().find(|d| d.key == key)
}

/// A catalog entry as the API lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The definition.
    #[serde(flatten)]
    pub def: MetricDef,
    /// Allowed scopes.
    pub scopes: &'static [&'static str],
    /// Allowed statistics.
    pub stats: &'static [&'static str],
    /// Statistics answered by default.
    pub default_stats: &'static [&'static str],
}

/// The catalog as the API lists it.
pub fn entries() -> Vec<CatalogEntry> {
    CATALOG
        .iter()
        .map(|d| CatalogEntry {
            def: *d,
            scopes: &SCOPES,
            stats: d.kind.stats(),
            default_stats: d.kind.default_stats(),
        })
        .collect()
}
