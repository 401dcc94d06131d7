//! Reads the rows of one metric's population and turns them into samples (analytics spec
//! §9.3–§9.5), using the pure formulas of the `analytics` crate for everything that is a
//! formula: code totals, work-item status at a day's end.

use analytics::code::{Commit, FileChange};
use analytics::work_item::{Item, Status, Transition, is_wip};
use chrono::{DateTime, Utc};
use domain::OrgId;
use store::Conn;
use store::analytics::metrics::Scope;
use store::analytics::metrics::code::{CommitRow, commits};
use store::analytics::metrics::items::{ItemPopulation, ItemRow, items};
use store::analytics::metrics::prs::{MergedPr, PrPopulation, PrRow, merged, prs, reviews_given};

use super::series::{CodeField, Series};
use super::window::{Window, midnight};
use crate::Result;

/// A stored status name as the formulas' [`Status`]; the schema's CHECK allows no other.
pub(crate) fn status(name: &str) -> Option<Status> {
    Status::ALL.into_iter().find(|s| s.as_str() == name)
}

/// A work item row as the formulas see it. A transition without a known `from` status
/// starts where the previous one ended (`todo` for the first).
pub(crate) fn item_of(
    created_at: DateTime<Utc>,
    current: &str,
    transitions: &[(DateTime<Utc>, Option<String>, String)],
) -> Item {
    let mut out = Vec::with_capacity(transitions.len());
    let mut previous = Status::Todo;
    for (at, from, to) in transitions {
        let Some(to) = status(to) else { continue };
        let from = from.as_deref().and_then(status).unwrap_or(previous);
        out.push(Transition { from, to, at: *at });
        previous = to;
    }
    Item {
        created_at,
        current: status(current).unwrap_or(Status::Todo),
        transitions: out,
    }
}

fn commit_of(c: CommitRow) -> (DateTime<Utc>, Commit) {
    let files = c
        .files
        .into_iter()
        .map(|f| FileChange {
            path: f.path,
            additions: u64::try_from(f.additions).unwrap_or(0),
            deletions: u64::try_from(f.deletions).unwrap_or(0),
            is_binary: f.is_binary,
            is_excluded: f.is_excluded,
        })
        .collect();
    (
        c.committed_at,
        Commit {
            sha: c.sha,
            parent_count: u32::try_from(c.parent_count).unwrap_or(u32::MAX),
            files,
        },
    )
}

fn values(rows: &[MergedPr], pick: impl Fn(&MergedPr) -> Option<f64>) -> Series {
    Series::Values(
        rows.iter()
            .filter_map(|r| Some((r.merged_at, pick(r)?)))
            .collect(),
    )
}

/// Open non-draft PRs at each day's end (§9.4 `pr_wip`).
fn pr_wip(w: &Window, rows: &[PrRow]) -> Series {
    let days = w.days();
    Series::Gauge(
        days.iter()
            .map(|d| {
                let end = midnight(*d + chrono::Days::new(1));
                let n = rows
                    .iter()
                    .filter(|r| !r.is_draft && r.created_at < end)
                    .filter(|r| match r.merged_at.or(r.closed_at) {
                        Some(closed) => closed >= end,
                        None => r.state == "open",
                    })
                    .count();
                (*d, n as u64)
            })
            .collect(),
    )
}

/// Work items in progress at each day's end (§9.5 `wip`).
fn item_wip(w: &Window, rows: &[ItemRow]) -> Series {
    let items: Vec<Item> = rows
        .iter()
        .map(|r| item_of(r.created_at, &r.status, &r.transitions))
        .collect();
    Series::Gauge(
        w.days()
            .iter()
            .map(|d| {
                let end = midnight(*d + chrono::Days::new(1));
                (*d, items.iter().filter(|i| is_wip(i, end)).count() as u64)
            })
            .collect(),
    )
}

/// `wip_age` (§9.5): for each WIP item with a start, `day_end − started_at`, read at the end of
/// each bucket's last day in the window, as `wip` reads a week at its last day.
fn item_wip_age(w: &Window, rows: &[ItemRow]) -> Series {
    let items: Vec<(Item, Option<DateTime<Utc>>)> = rows
        .iter()
        .map(|r| {
            (
                item_of(r.created_at, &r.status, &r.transitions),
                r.started_at,
            )
        })
        .collect();
    let days = w.days();
    let mut ages = Vec::new();
    for (i, d) in days.iter().enumerate() {
        let last_of_bucket = days
            .get(i + 1)
            .is_none_or(|next| w.bucket_of_day(*next) != w.bucket_of_day(*d));
        if !last_of_bucket {
            continue;
        }
        let end = midnight(*d + chrono::Days::new(1));
        for (item, started) in &items {
            if let Some(s) = started.filter(|s| *s < end)
                && is_wip(item, end)
            {
                ages.push((midnight(*d), (end - s).num_milliseconds() as f64 / 1000.0));
            }
        }
    }
    Series::Values(ages)
}

fn code_field(key: &str) -> Option<CodeField> {
    Some(match key {
        "commits" => CodeField::Commits,
        "merge_commits" => CodeField::MergeCommits,
        "additions" => CodeField::Additions,
        "deletions" => CodeField::Deletions,
        "churn" => CodeField::Churn,
        "files_changed" => CodeField::FilesChanged,
        _ => return None,
    })
}

fn pr_population(key: &str) -> Option<PrPopulation> {
    Some(match key {
        "pr_opened" => PrPopulation::Opened,
        "review_latency" => PrPopulation::Reviewed,
        "pr_wip" => PrPopulation::Open,
        _ => return None,
    })
}

/// The metrics over the PRs merged in the window.
fn is_merged_metric(key: &str) -> bool {
    matches!(
        key,
        "pr_merged"
            | "pr_cycle_time"
            | "pr_lead_time"
            | "pr_coding_time"
            | "pr_pickup_time"
            | "pr_review_time"
            | "pr_merge_time"
            | "pr_merged_without_review"
            | "pr_size"
    )
}

fn item_population(key: &str) -> Option<ItemPopulation> {
    Some(match key {
        "items_created" => ItemPopulation::Created,
        "items_canceled" => ItemPopulation::Canceled,
        "wip" | "wip_age" => ItemPopulation::Wip,
        "items_completed" | "item_cycle_time" | "item_lead_time" | "flow_efficiency" => {
            ItemPopulation::Completed
        }
        _ => return None,
    })
}

fn pr_series(key: &str, w: &Window, rows: &[PrRow]) -> Series {
    let (from, to) = (w.from(), w.to());
    match key {
        "pr_opened" => Series::Count(rows.iter().map(|r| r.created_at).collect()),
        "review_latency" => Series::Values(
            rows.iter()
                .filter_map(|r| {
                    let s = r.review_latency_s?;
                    // The first review is t1 + latency (pr_metrics keeps no separate column).
                    let t2 =
                        r.created_at + chrono::Duration::microseconds((s * 1e6).round() as i64);
                    (t2 >= from && t2 < to).then_some((t2, s))
                })
                .collect(),
        ),
        _ => pr_wip(w, rows),
    }
}

fn merged_series(key: &str, rows: &[MergedPr]) -> Series {
    match key {
        "pr_merged" => Series::Count(rows.iter().map(|r| r.merged_at).collect()),
        "pr_merged_without_review" => Series::Count(
            rows.iter()
                .filter(|r| !r.reviewed_before_merge)
                .map(|r| r.merged_at)
                .collect(),
        ),
        "pr_cycle_time" => values(rows, |r| r.cycle_s),
        "pr_lead_time" => values(rows, |r| r.lead_s),
        "pr_coding_time" => values(rows, |r| r.coding_s),
        "pr_pickup_time" => values(rows, |r| r.pickup_s),
        "pr_review_time" => values(rows, |r| r.review_s),
        "pr_merge_time" => values(rows, |r| r.merge_s),
        _ => values(rows, |r| r.size.map(|s| s as f64)),
    }
}

fn item_series(key: &str, w: &Window, rows: &[ItemRow]) -> Series {
    let at = |r: &ItemRow, v: Option<f64>| Some((r.completed_at?, v?));
    match key {
        "items_created" => Series::Count(rows.iter().map(|r| r.created_at).collect()),
        "items_canceled" => Series::Count(rows.iter().filter_map(|r| r.canceled_at).collect()),
        "wip" => item_wip(w, rows),
        "wip_age" => item_wip_age(w, rows),
        "items_completed" => Series::Count(rows.iter().filter_map(|r| r.completed_at).collect()),
        "item_cycle_time" => Series::Values(rows.iter().filter_map(|r| at(r, r.cycle_s)).collect()),
        "item_lead_time" => Series::Values(rows.iter().filter_map(|r| at(r, r.lead_s)).collect()),
        _ => Series::Ratio(
            rows.iter()
                .filter_map(|r| Some((r.completed_at?, r.active_s?, r.wait_s?)))
                .collect(),
        ),
    }
}

/// The samples of metric `key` (a catalog key) for `scope` in window `w`.
pub(crate) async fn series(
    conn: &mut Conn<'_>,
    org: OrgId,
    scope: &Scope,
    key: &str,
    w: &Window,
) -> Result<Series> {
    let (from, to) = (w.from(), w.to());
    if let Some(field) = code_field(key) {
        let rows = commits(conn, org, scope, from, to).await?;
        return Ok(Series::Code(
            rows.into_iter().map(commit_of).collect(),
            field,
        ));
    }
    if is_merged_metric(key) {
        let rows = merged(conn, org, scope, from, to).await?;
        return Ok(merged_series(key, &rows));
    }
    if let Some(p) = pr_population(key) {
        let rows = prs(conn, org, scope, p, from, to).await?;
        return Ok(pr_series(key, w, &rows));
    }
    if let Some(p) = item_population(key) {
        let rows = items(conn, org, scope, p, from, to).await?;
        return Ok(item_series(key, w, &rows));
    }
    if key == "reviews_given" {
        return Ok(Series::Count(
            reviews_given(conn, org, scope, from, to).await?,
        ));
    }
    Err(super::request::unknown_metric(key))
}
