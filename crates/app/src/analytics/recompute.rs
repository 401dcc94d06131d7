//! Derived facts (analytics spec §2.2 freshness): `pr_metrics` and `work_item_facts` are
//! recomputed for every row a sync touched, and `metrics recompute --from --to` rebuilds a
//! range with the same functions, so both paths give the same rows. A row's facts depend only
//! on its own rows (and the org's teams for `team_ids`), so recomputing is idempotent.
//!
//! The functions take a [`Conn`], so a sync can call them inside the transaction that wrote
//! the rows.

use analytics::identity::Bots;
use analytics::pull_request::{PrTimes, SizeBucket, phases, size_bucket};
use analytics::team::{ProjectKeys, attribute};
use analytics::work_item::{
    DEFAULT_ACTIVE_STATUSES, DEFAULT_START_STATUSES, canceled_at, completed_at, cycle_time, flow,
    lead_time, started_at,
};
use chrono::{DateTime, TimeDelta, Utc};
use domain::{OrgId, RepoId, TeamId, WorkItemId};
use store::Conn;
use store::analytics::facts::{ItemFacts, PrMetrics, upsert_item_facts, upsert_pr_metrics};
use store::analytics::pull_requests::{self, PrTimeline};
use store::analytics::{teams, work_items};

use super::compute::item_of;
use crate::Result;

fn seconds(d: TimeDelta) -> f64 {
    d.num_seconds() as f64 + f64::from(d.subsec_nanos()) * 1e-9
}

fn bucket_name(b: SizeBucket) -> &'static str {
    match b {
        SizeBucket::Xs => "XS",
        SizeBucket::S => "S",
        SizeBucket::M => "M",
        SizeBucket::L => "L",
        SizeBucket::Xl => "XL",
    }
}

/// The `pr_metrics` row of a PR (§9.4). Stored reviews, when there are any, decide the first
/// review and the last approval before the merge, leaving out self-reviews and bots (§8);
/// stored PR commits decide the first commit.
pub fn pr_metrics_of(t: &PrTimeline, bots: &Bots) -> PrMetrics {
    let first_commit_at = t.commits_first_authored_at.or(t.first_commit_at);
    let (first_review_at, last_approval_at) = if t.reviews.is_empty() {
        (t.first_review_at, t.last_approval_at)
    } else {
        let counted: Vec<_> = t
            .reviews
            .iter()
            .filter(|r| {
                !r.is_self
                    && !r.identity_is_bot
                    && !r.reviewer_login.as_deref().is_some_and(|l| bots.is_bot(l))
            })
            .collect();
        let first = counted.iter().map(|r| r.submitted_at).min();
        let last_approval = counted
            .iter()
            .filter(|r| r.state == "approved")
            .filter(|r| t.merged_at.is_none_or(|m| r.submitted_at <= m))
            .map(|r| r.submitted_at)
            .max();
        (first, last_approval)
    };
    let p = phases(&PrTimes {
        first_commit_at,
        created_at: t.created_at,
        first_review_at,
        last_approval_at,
        merged_at: t.merged_at,
    });
    let review_latency_s = (!t.is_draft && (t.state == "open" || t.state == "merged"))
        .then_some(first_review_at)
        .flatten()
        .map(|t2| seconds((t2 - t.created_at).max(TimeDelta::zero())));
    let size = match (t.size_state.as_str(), t.additions, t.deletions) {
        ("unknown", _, _) => None,
        (_, Some(a), Some(d)) => Some(a + d),
        _ => None,
    };
    let s = |d: Option<TimeDelta>| d.map(seconds);
    PrMetrics {
        repo_id: t.repo_id,
        number: t.number,
        cycle_s: p.map(|p| seconds(p.cycle)),
        lead_s: p.and_then(|p| s(p.lead)),
        coding_s: p.and_then(|p| s(p.coding)),
        pickup_s: p.and_then(|p| s(p.pickup)),
        review_s: p.and_then(|p| s(p.review)),
        merge_s: p.and_then(|p| s(p.merge)),
        review_latency_s,
        size,
        size_bucket: size
            .map(|n| bucket_name(size_bucket(u64::try_from(n).unwrap_or(0))).to_owned()),
        reviewed_before_merge: p.is_some_and(|p| !p.without_review),
        merged_at: p.and(t.merged_at),
    }
}

/// Recomputes `pr_metrics` for the PRs `(repo, number)` a sync touched; PRs that do not
/// exist in the org are skipped. Returns how many rows were written.
pub async fn recompute_pull_requests(
    conn: &mut Conn<'_>,
    org: OrgId,
    prs: &[(RepoId, i64)],
) -> Result<usize> {
    let bots = Bots::defaults();
    let mut written = 0;
    for (repo, number) in prs {
        if let Some(t) = pull_requests::timeline(conn, org, *repo, *number).await? {
            upsert_pr_metrics(conn, org, &pr_metrics_of(&t, &bots)).await?;
            written += 1;
        }
    }
    Ok(written)
}

/// The org's teams as the attribution needs them: compiled project keys and memberships.
struct Teams {
    keys: Vec<(TeamId, ProjectKeys)>,
    members: Vec<(TeamId, domain::IdentityId)>,
}

async fn teams_of(conn: &mut Conn<'_>, org: OrgId) -> Result<Teams> {
    let mut keys = Vec::new();
    for t in teams::list(conn, org).await? {
        // A glob that does not compile was refused when it was saved; skip it defensively.
        match ProjectKeys::new(&t.project_keys) {
            Ok(k) => keys.push((t.id, k)),
            Err(e) => tracing::warn!(team = %t.id, error = %e, "team project keys skipped"),
        }
    }
    Ok(Teams {
        keys,
        members: teams::memberships(conn, org).await?,
    })
}

/// Recomputes `work_item_facts` for the items a sync touched (§9.5, team attribution §8);
/// items that do not exist in the org are skipped. Returns how many rows were written.
pub async fn recompute_work_items(
    conn: &mut Conn<'_>,
    org: OrgId,
    ids: &[WorkItemId],
) -> Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let teams = teams_of(conn, org).await?;
    let mut written = 0;
    for id in ids {
        let Some(t) = work_items::timeline(conn, org, *id).await? else {
            continue;
        };
        let item = item_of(t.created_at, &t.status, &t.transitions);
        let assignee_teams: Vec<TeamId> = teams
            .members
            .iter()
            .filter(|(_, who)| Some(*who) == t.assignee_identity_id)
            .map(|(team, _)| *team)
            .collect();
        let (active_s, wait_s) =
            flow(&item, &DEFAULT_START_STATUSES, &DEFAULT_ACTIVE_STATUSES).unzip();
        let facts = ItemFacts {
            work_item_id: t.id,
            started_at: started_at(&item, &DEFAULT_START_STATUSES),
            completed_at: completed_at(&item),
            canceled_at: canceled_at(&item),
            cycle_s: cycle_time(&item, &DEFAULT_START_STATUSES),
            lead_s: lead_time(&item),
            active_s,
            wait_s,
            team_ids: attribute(&teams.keys, t.project_key.as_deref(), &assignee_teams),
        };
        upsert_item_facts(conn, org, &facts).await?;
        written += 1;
    }
    Ok(written)
}

/// What a range recompute rewrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Recomputed {
    /// `pr_metrics` rows.
    pub pull_requests: usize,
    /// `work_item_facts` rows.
    pub work_items: usize,
}

/// Rebuilds the facts of every PR opened or merged and every item created, changed or
/// transitioned in `[from, to)` (`dev-health metrics recompute --from --to`).
pub async fn recompute_range(
    conn: &mut Conn<'_>,
    org: OrgId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Recomputed> {
    let prs = pull_requests::keys_in_range(conn, org, from, to).await?;
    let items = work_items::ids_in_range(conn, org, from, to).await?;
    Ok(Recomputed {
        pull_requests: recompute_pull_requests(conn, org, &prs).await?,
        work_items: recompute_work_items(conn, org, &items).await?,
    })
}
