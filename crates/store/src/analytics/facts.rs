//! `pr_metrics` and `work_item_facts` (analytics spec §2.2): per-PR and per-item values
//! derived from the synced rows, written by the recompute after every sync that touched the
//! row. Metrics read these per-item values and compute window statistics from them (§9.1), so
//! a row is always replaced whole.

use chrono::{DateTime, Utc};
use domain::{OrgId, RepoId, TeamId, WorkItemId};

use crate::{Conn, Id, JsonText, Result, Ts, on_conn};

/// The derived values of one PR; durations in seconds, `None` outside a metric's population.
#[derive(Debug, Clone, PartialEq)]
pub struct PrMetrics {
    /// The repository.
    pub repo_id: RepoId,
    /// The PR number.
    pub number: i64,
    /// `t4 − t1` (merged PRs).
    pub cycle_s: Option<f64>,
    /// `t4 − min(t0, t1)`.
    pub lead_s: Option<f64>,
    /// `t1 − min(t0, t1)`.
    pub coding_s: Option<f64>,
    /// `t2 − t1` (reviewed before merge).
    pub pickup_s: Option<f64>,
    /// `t3 − t2`.
    pub review_s: Option<f64>,
    /// `t4 − t3`.
    pub merge_s: Option<f64>,
    /// `t2 − t1` for open or merged non-draft PRs with a review (bucketed by `t2`).
    pub review_latency_s: Option<f64>,
    /// `additions + deletions` when the size is known.
    pub size: Option<i64>,
    /// `XS`, `S`, `M`, `L`, `XL`.
    pub size_bucket: Option<String>,
    /// A non-self review came before the merge.
    pub reviewed_before_merge: bool,
    /// `t4`, copied so merged-PR metrics read one index.
    pub merged_at: Option<DateTime<Utc>>,
}

/// Writes (replaces) the PR's derived values.
pub async fn upsert_pr_metrics(conn: &mut Conn<'_>, org: OrgId, m: &PrMetrics) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO pr_metrics (org_id, repo_id, number, cycle_s, lead_s, coding_s, pickup_s, \
         review_s, merge_s, review_latency_s, size, size_bucket, reviewed_before_merge, \
         merged_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (org_id, repo_id, number) DO UPDATE SET cycle_s = excluded.cycle_s, \
         lead_s = excluded.lead_s, coding_s = excluded.coding_s, \
         pickup_s = excluded.pickup_s, review_s = excluded.review_s, \
         merge_s = excluded.merge_s, review_latency_s = excluded.review_latency_s, \
         size = excluded.size, size_bucket = excluded.size_bucket, \
         reviewed_before_merge = excluded.reviewed_before_merge, \
         merged_at = excluded.merged_at")
        .bind(Id::from(org)).bind(Id::from(m.repo_id)).bind(m.number).bind(m.cycle_s)
        .bind(m.lead_s).bind(m.coding_s).bind(m.pickup_s).bind(m.review_s).bind(m.merge_s)
        .bind(m.review_latency_s).bind(m.size).bind(&m.size_bucket)
        .bind(m.reviewed_before_merge).bind(m.merged_at.map(Ts::new))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The derived values of one work item; durations in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemFacts {
    /// The item.
    pub work_item_id: WorkItemId,
    /// First transition into a start status.
    pub started_at: Option<DateTime<Utc>>,
    /// Last transition into `done`, while done.
    pub completed_at: Option<DateTime<Utc>>,
    /// Last transition into `canceled`, while canceled.
    pub canceled_at: Option<DateTime<Utc>>,
    /// `completed_at − started_at`.
    pub cycle_s: Option<f64>,
    /// `completed_at − created_at`.
    pub lead_s: Option<f64>,
    /// Time in active statuses over the cycle.
    pub active_s: Option<f64>,
    /// Time in every other status over the cycle.
    pub wait_s: Option<f64>,
    /// The teams the item counts for (§8).
    pub team_ids: Vec<TeamId>,
}

/// Writes (replaces) the item's derived values.
pub async fn upsert_item_facts(conn: &mut Conn<'_>, org: OrgId, f: &ItemFacts) -> Result<()> {
    let teams: Vec<String> = f.team_ids.iter().map(ToString::to_string).collect();
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO work_item_facts (org_id, work_item_id, started_at, completed_at, \
         canceled_at, cycle_s, lead_s, active_s, wait_s, team_ids) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (org_id, work_item_id) DO UPDATE SET started_at = excluded.started_at, \
         completed_at = excluded.completed_at, canceled_at = excluded.canceled_at, \
         cycle_s = excluded.cycle_s, lead_s = excluded.lead_s, active_s = excluded.active_s, \
         wait_s = excluded.wait_s, team_ids = excluded.team_ids")
        .bind(Id::from(org)).bind(Id::from(f.work_item_id)).bind(f.started_at.map(Ts::new))
        .bind(f.completed_at.map(Ts::new)).bind(f.canceled_at.map(Ts::new)).bind(f.cycle_s)
        .bind(f.lead_s).bind(f.active_s).bind(f.wait_s).bind(JsonText(&teams))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
