//! Pull requests and reviews in a window (analytics spec §9.4): the per-PR rows of one
//! population joined with their `pr_metrics` values, and the reviews given.

use chrono::{DateTime, Utc};
use domain::OrgId;

use super::{Arg, Scope, Sql, fetch_built};
use crate::{Conn, Result, Ts};

/// Which PRs a metric reads besides the merged ones (those are [`merged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrPopulation {
    /// Opened in the window (`pr_opened`).
    Opened,
    /// With a review latency, opened before the window ends; the caller keeps those whose
    /// first review (`created_at + review_latency_s`) falls in the window.
    Reviewed,
    /// Non-draft PRs opened before the window ends and not closed or merged before it starts
    /// (`pr_wip` at each day's end).
    Open,
}

/// One PR with its derived values (durations in seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct PrRow {
    /// `open`, `closed` or `merged`.
    pub state: String,
    /// Draft.
    pub is_draft: bool,
    /// `t1`.
    pub created_at: DateTime<Utc>,
    /// `t4`.
    pub merged_at: Option<DateTime<Utc>>,
    /// Closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Review latency.
    pub review_latency_s: Option<f64>,
}

#[derive(sqlx::FromRow)]
struct Raw {
    state: String,
    is_draft: bool,
    created_at: Ts,
    merged_at: Option<Ts>,
    closed_at: Option<Ts>,
    review_latency_s: Option<f64>,
}

impl From<Raw> for PrRow {
    fn from(r: Raw) -> PrRow {
        PrRow {
            state: r.state,
            is_draft: r.is_draft,
            created_at: r.created_at.get(),
            merged_at: r.merged_at.map(Ts::get),
            closed_at: r.closed_at.map(Ts::get),
            review_latency_s: r.review_latency_s,
        }
    }
}

/// The PRs of `population` for `scope` in `[from, to)`, in no particular order.
pub async fn prs(
    conn: &mut Conn<'_>,
    org: OrgId,
    scope: &Scope,
    population: PrPopulation,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<PrRow>> {
    let mut sql = Sql::new(org);
    let (f, t) = (
        sql.arg(Arg::Ts(Ts::new(from))),
        sql.arg(Arg::Ts(Ts::new(to))),
    );
    let filter = match population {
        PrPopulation::Opened => format!("p.created_at >= {f} AND p.created_at < {t}"),
        PrPopulation::Reviewed => {
            format!("m.review_latency_s IS NOT NULL AND p.created_at < {t}")
        }
        PrPopulation::Open => format!(
            "p.is_draft = FALSE AND p.created_at < {t} \
             AND (p.merged_at IS NULL OR p.merged_at >= {f}) \
             AND (p.closed_at IS NULL OR p.closed_at >= {f})"
        ),
    };
    sql.push(&format!(
        "SELECT p.state, p.is_draft, p.created_at, p.merged_at, p.closed_at, \
         m.review_latency_s FROM pull_requests p LEFT JOIN pr_metrics m \
         ON m.org_id = p.org_id AND m.repo_id = p.repo_id AND m.number = p.number \
         WHERE p.org_id = $1 AND {filter}"
    ));
    sql.repo("p.repo_id", scope);
    sql.who("p.author_identity_id", scope);
    let rows: Vec<Raw> = fetch_built!(conn, sql, Raw)?;
    Ok(rows.into_iter().map(PrRow::from).collect())
}

/// One PR merged in the window with its derived values (durations in seconds).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MergedPr {
    /// `t4`.
    #[sqlx(try_from = "Ts")]
    pub merged_at: DateTime<Utc>,
    /// Cycle time.
    pub cycle_s: Option<f64>,
    /// Lead time.
    pub lead_s: Option<f64>,
    /// Coding time.
    pub coding_s: Option<f64>,
    /// Pickup time.
    pub pickup_s: Option<f64>,
    /// Review time.
    pub review_s: Option<f64>,
    /// Merge time.
    pub merge_s: Option<f64>,
    /// Size in lines.
    pub size: Option<i64>,
    /// Reviewed before merge.
    pub reviewed_before_merge: bool,
}

/// The PRs of `scope` merged in `[from, to)` (throughput, the phases, size, merged without
/// review), read from `pr_metrics` alone — by `(org_id, repo_id, merged_at)` for a repository,
/// `(org_id, merged_at)` otherwise — and joined with the PRs only to filter by author.
pub async fn merged(
    conn: &mut Conn<'_>,
    org: OrgId,
    scope: &Scope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<MergedPr>> {
    let mut sql = Sql::new(org);
    let (f, t) = (
        sql.arg(Arg::Ts(Ts::new(from))),
        sql.arg(Arg::Ts(Ts::new(to))),
    );
    let by_author = scope.person.is_some() || scope.team.is_some();
    sql.push(&format!(
        "SELECT m.merged_at, m.cycle_s, m.lead_s, m.coding_s, m.pickup_s, m.review_s, \
         m.merge_s, m.size, m.reviewed_before_merge FROM pr_metrics m{} \
         WHERE m.org_id = $1 AND m.merged_at >= {f} AND m.merged_at < {t}",
        if by_author {
            " JOIN pull_requests p ON p.org_id = m.org_id AND p.repo_id = m.repo_id \
             AND p.number = m.number"
        } else {
            ""
        }
    ));
    sql.repo("m.repo_id", scope);
    if by_author {
        sql.who("p.author_identity_id", scope);
    }
    Ok(fetch_built!(conn, sql, MergedPr)?)
}

/// When each non-self review of `scope` in `[from, to)` was submitted (`reviews_given`,
/// attributed to the reviewer).
pub async fn reviews_given(
    conn: &mut Conn<'_>,
    org: OrgId,
    scope: &Scope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    let mut sql = Sql::new(org);
    let (f, t) = (
        sql.arg(Arg::Ts(Ts::new(from))),
        sql.arg(Arg::Ts(Ts::new(to))),
    );
    sql.push(&format!(
        "SELECT r.submitted_at FROM reviews r WHERE r.org_id = $1 AND r.is_self = FALSE \
         AND r.submitted_at >= {f} AND r.submitted_at < {t}"
    ));
    sql.repo("r.repo_id", scope);
    sql.who("r.reviewer_identity_id", scope);
    let rows: Vec<(Ts,)> = fetch_built!(conn, sql, (Ts,))?;
    Ok(rows.into_iter().map(|(t,)| t.get()).collect())
}
