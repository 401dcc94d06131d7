//! `pull_requests`, `pull_request_commits` and `reviews` (analytics spec §2.1): idempotent
//! upserts by natural key, so a re-sync never duplicates a row, and the loads the PR metric
//! recompute (§9.4) reads.

use chrono::{DateTime, Utc};
use domain::{IdentityId, OrgId, RepoId};

use crate::{Conn, Id, JsonText, Result, Ts, on_conn};

/// A pull request (GitLab: merge request, `number` = iid) as a sync writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRequest {
    /// The repository.
    pub repo_id: RepoId,
    /// The PR number (MR iid).
    pub number: i64,
    /// `github` or `gitlab`.
    pub provider: String,
    /// The provider's id.
    pub external_id: Option<String>,
    /// Title.
    pub title: String,
    /// `open`, `closed` or `merged`.
    pub state: String,
    /// Drafts are left out of review latency and WIP.
    pub is_draft: bool,
    /// The author's login.
    pub author_login: Option<String>,
    /// The author's resolved identity (§8), which PR metrics are attributed to.
    pub author_identity_id: Option<IdentityId>,
    /// Source branch.
    pub head_ref: Option<String>,
    /// Target branch.
    pub base_ref: Option<String>,
    /// Labels.
    pub labels: Vec<String>,
    /// `t1`: opened.
    pub created_at: DateTime<Utc>,
    /// Last change at the provider.
    pub updated_at: DateTime<Utc>,
    /// `t0` as the provider reported it (the PR's commits take precedence when stored).
    pub first_commit_at: Option<DateTime<Utc>>,
    /// `t2` as the provider reported it (the stored reviews take precedence when present).
    pub first_review_at: Option<DateTime<Utc>>,
    /// First comment.
    pub first_comment_at: Option<DateTime<Utc>>,
    /// `t3` as the provider reported it (the stored reviews take precedence when present).
    pub last_approval_at: Option<DateTime<Utc>>,
    /// `t4`.
    pub merged_at: Option<DateTime<Utc>>,
    /// Closed (merged or not).
    pub closed_at: Option<DateTime<Utc>>,
    /// The merge commit.
    pub merge_commit_sha: Option<String>,
    /// Added lines.
    pub additions: Option<i64>,
    /// Deleted lines.
    pub deletions: Option<i64>,
    /// Files changed.
    pub changed_files: Option<i64>,
    /// Commits.
    pub commit_count: Option<i64>,
    /// `complete`, `partial` or `unknown` (unknown sizes are left out of `pr_size`).
    pub size_state: String,
}

/// A commit of a PR (feeds `t0`, the coding time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrCommit {
    /// The commit id.
    pub sha: String,
    /// When it was authored.
    pub authored_at: DateTime<Utc>,
}

/// A submitted review (pending reviews are never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The provider's review id.
    pub review_id: String,
    /// The reviewer's login.
    pub reviewer_login: Option<String>,
    /// The reviewer's resolved identity (`reviews_given` goes to it).
    pub reviewer_identity_id: Option<IdentityId>,
    /// `approved`, `changes_requested`, `commented` or `dismissed`.
    pub state: String,
    /// When it was submitted.
    pub submitted_at: DateTime<Utc>,
    /// The author reviewing their own PR: stored, ignored by metrics.
    pub is_self: bool,
}

/// Inserts or updates a PR by `(org, repo, number)`.
pub async fn upsert(conn: &mut Conn<'_>, org: OrgId, pr: &PullRequest) -> Result<()> {
    let ts = |t: Option<DateTime<Utc>>| t.map(Ts::new);
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO pull_requests (org_id, repo_id, number, provider, external_id, title, state, \
         is_draft, author_login, author_identity_id, head_ref, base_ref, labels, created_at, \
         updated_at, first_commit_at, first_review_at, first_comment_at, last_approval_at, \
         merged_at, closed_at, merge_commit_sha, additions, deletions, changed_files, \
         commit_count, size_state) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $23, $24, $25, $26, $27) \
         ON CONFLICT (org_id, repo_id, number) DO UPDATE SET provider = excluded.provider, \
         external_id = excluded.external_id, title = excluded.title, state = excluded.state, \
         is_draft = excluded.is_draft, author_login = excluded.author_login, \
         author_identity_id = excluded.author_identity_id, head_ref = excluded.head_ref, \
         base_ref = excluded.base_ref, labels = excluded.labels, \
         created_at = excluded.created_at, updated_at = excluded.updated_at, \
         first_commit_at = excluded.first_commit_at, first_review_at = excluded.first_review_at, \
         first_comment_at = excluded.first_comment_at, \
         last_approval_at = excluded.last_approval_at, merged_at = excluded.merged_at, \
         closed_at = excluded.closed_at, merge_commit_sha = excluded.merge_commit_sha, \
         additions = excluded.additions, deletions = excluded.deletions, \
         changed_files = excluded.changed_files, commit_count = excluded.commit_count, \
         size_state = excluded.size_state")
        .bind(Id::from(org)).bind(Id::from(pr.repo_id)).bind(pr.number).bind(&pr.provider)
        .bind(&pr.external_id).bind(&pr.title).bind(&pr.state).bind(pr.is_draft)
        .bind(&pr.author_login).bind(pr.author_identity_id.map(Id::from)).bind(&pr.head_ref)
        .bind(&pr.base_ref).bind(JsonText(&pr.labels)).bind(Ts::new(pr.created_at))
        .bind(Ts::new(pr.updated_at)).bind(ts(pr.first_commit_at)).bind(ts(pr.first_review_at))
        .bind(ts(pr.first_comment_at)).bind(ts(pr.last_approval_at)).bind(ts(pr.merged_at))
        .bind(ts(pr.closed_at)).bind(&pr.merge_commit_sha).bind(pr.additions)
        .bind(pr.deletions).bind(pr.changed_files).bind(pr.commit_count).bind(&pr.size_state)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Inserts or updates the PR's commits by sha (the PR must exist).
pub async fn upsert_commits(
    conn: &mut Conn<'_>,
    org: OrgId,
    repo: RepoId,
    number: i64,
    commits: &[PrCommit],
) -> Result<()> {
    for pc in commits {
        on_conn!(conn, c => sqlx::query(
            "INSERT INTO pull_request_commits (org_id, repo_id, number, sha, authored_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, repo_id, number, sha) \
             DO UPDATE SET authored_at = excluded.authored_at")
            .bind(Id::from(org)).bind(Id::from(repo)).bind(number).bind(&pc.sha)
            .bind(Ts::new(pc.authored_at))
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// Inserts or updates the PR's reviews by review id (the PR must exist).
pub async fn upsert_reviews(
    conn: &mut Conn<'_>,
    org: OrgId,
    repo: RepoId,
    number: i64,
    reviews: &[Review],
) -> Result<()> {
    for r in reviews {
        on_conn!(conn, c => sqlx::query(
            "INSERT INTO reviews (org_id, repo_id, number, review_id, reviewer_login, \
             reviewer_identity_id, state, submitted_at, is_self) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (org_id, repo_id, number, review_id) DO UPDATE SET \
             reviewer_login = excluded.reviewer_login, \
             reviewer_identity_id = excluded.reviewer_identity_id, state = excluded.state, \
             submitted_at = excluded.submitted_at, is_self = excluded.is_self")
            .bind(Id::from(org)).bind(Id::from(repo)).bind(number).bind(&r.review_id)
            .bind(&r.reviewer_login).bind(r.reviewer_identity_id.map(Id::from)).bind(&r.state)
            .bind(Ts::new(r.submitted_at)).bind(r.is_self)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// What the PR metric recompute needs of one PR: its own timestamps plus what its commits and
/// reviews say.
#[derive(Debug, Clone, PartialEq)]
pub struct PrTimeline {
    /// The repository.
    pub repo_id: RepoId,
    /// The PR number.
    pub number: i64,
    /// `open`, `closed` or `merged`.
    pub state: String,
    /// Draft.
    pub is_draft: bool,
    /// `t1`.
    pub created_at: DateTime<Utc>,
    /// `t4`.
    pub merged_at: Option<DateTime<Utc>>,
    /// The provider's `t0`.
    pub first_commit_at: Option<DateTime<Utc>>,
    /// The provider's `t2`.
    pub first_review_at: Option<DateTime<Utc>>,
    /// The provider's `t3`.
    pub last_approval_at: Option<DateTime<Utc>>,
    /// Lines added, when known.
    pub additions: Option<i64>,
    /// Lines deleted, when known.
    pub deletions: Option<i64>,
    /// `complete`, `partial` or `unknown`.
    pub size_state: String,
    /// The earliest `authored_at` of the stored PR commits.
    pub commits_first_authored_at: Option<DateTime<Utc>>,
    /// The stored reviews, oldest first (when there are any, they decide `t2`/`t3`).
    pub reviews: Vec<ReviewFact>,
}

/// What the metrics need of a stored review: self and bot reviews are ignored (§9.4, §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewFact {
    /// `approved`, `changes_requested`, `commented` or `dismissed`.
    pub state: String,
    /// Submitted.
    pub submitted_at: DateTime<Utc>,
    /// The PR's author reviewing it.
    pub is_self: bool,
    /// The reviewer's login (bot patterns match it).
    pub reviewer_login: Option<String>,
    /// The reviewer's identity is flagged as a bot.
    pub identity_is_bot: bool,
}

#[derive(sqlx::FromRow)]
struct TimelineRow {
    repo_id: Id,
    number: i64,
    state: String,
    is_draft: bool,
    created_at: Ts,
    merged_at: Option<Ts>,
    first_commit_at: Option<Ts>,
    first_review_at: Option<Ts>,
    last_approval_at: Option<Ts>,
    additions: Option<i64>,
    deletions: Option<i64>,
    size_state: String,
}

#[derive(sqlx::FromRow)]
struct ReviewRow {
    state: String,
    submitted_at: Ts,
    is_self: bool,
    reviewer_login: Option<String>,
    is_bot: Option<bool>,
}

/// The PR's timeline for the metric recompute; `None` when it does not exist in this org.
pub async fn timeline(
    conn: &mut Conn<'_>,
    org: OrgId,
    repo: RepoId,
    number: i64,
) -> Result<Option<PrTimeline>> {
    let row: Option<TimelineRow> = on_conn!(conn, c => sqlx::query_as(
        "SELECT repo_id, number, state, is_draft, created_at, merged_at, first_commit_at, \
         first_review_at, last_approval_at, additions, deletions, size_state \
         FROM pull_requests WHERE org_id = $1 AND repo_id = $2 AND number = $3")
        .bind(Id::from(org)).bind(Id::from(repo)).bind(number)
        .fetch_optional(&mut *c).await)?;
    let Some(r) = row else { return Ok(None) };
    let first: Option<Ts> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT MIN(authored_at) FROM pull_request_commits \
         WHERE org_id = $1 AND repo_id = $2 AND number = $3")
        .bind(Id::from(org)).bind(Id::from(repo)).bind(number)
        .fetch_one(&mut *c).await)?;
    let reviews: Vec<ReviewRow> = on_conn!(conn, c => sqlx::query_as(
        "SELECT r.state, r.submitted_at, r.is_self, r.reviewer_login, i.is_bot \
         FROM reviews r LEFT JOIN identities i \
         ON i.org_id = r.org_id AND i.id = r.reviewer_identity_id \
         WHERE r.org_id = $1 AND r.repo_id = $2 AND r.number = $3")
        .bind(Id::from(org)).bind(Id::from(repo)).bind(number)
        .fetch_all(&mut *c).await)?;
    let mut reviews: Vec<ReviewFact> = reviews
        .into_iter()
        .map(|v| ReviewFact {
            state: v.state,
            submitted_at: v.submitted_at.get(),
            is_self: v.is_self,
            reviewer_login: v.reviewer_login,
            identity_is_bot: v.is_bot.unwrap_or(false),
        })
        .collect();
    reviews.sort_by(|a, b| (a.submitted_at, &a.state).cmp(&(b.submitted_at, &b.state)));
    Ok(Some(PrTimeline {
        repo_id: r.repo_id.into(),
        number: r.number,
        state: r.state,
        is_draft: r.is_draft,
        created_at: r.created_at.get(),
        merged_at: r.merged_at.map(Ts::get),
        first_commit_at: r.first_commit_at.map(Ts::get),
        first_review_at: r.first_review_at.map(Ts::get),
        last_approval_at: r.last_approval_at.map(Ts::get),
        additions: r.additions,
        deletions: r.deletions,
        size_state: r.size_state,
        commits_first_authored_at: first.map(Ts::get),
        reviews,
    }))
}

/// The PRs opened or merged in `[from, to)`: what `metrics recompute --from --to` rebuilds.
pub async fn keys_in_range(
    conn: &mut Conn<'_>,
    org: OrgId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(RepoId, i64)>> {
    let rows: Vec<(Id, i64)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT repo_id, number FROM pull_requests WHERE org_id = $1 \
         AND ((created_at >= $2 AND created_at < $3) OR (merged_at >= $2 AND merged_at < $3)) \
         ORDER BY repo_id, number")
        .bind(Id::from(org)).bind(Ts::new(from)).bind(Ts::new(to))
        .fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(|(r, n)| (r.into(), n)).collect())
}

/// The stored `updated_at` of every PR of the repository, by number: the `known` map a
/// provider pass compares listed PRs with, so unchanged PRs skip their detail calls (§3.2).
pub async fn updated_at_by_number(
    conn: &mut Conn<'_>,
    org: OrgId,
    repo: RepoId,
) -> Result<Vec<(i64, DateTime<Utc>)>> {
    let rows: Vec<(i64, Ts)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT number, updated_at FROM pull_requests WHERE org_id = $1 AND repo_id = $2 \
         ORDER BY number")
        .bind(Id::from(org)).bind(Id::from(repo)).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(|(n, t)| (n, t.get())).collect())
}

/// How many rows a repository's PRs hold, for run summaries and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    /// `pull_requests` rows.
    pub pull_requests: i64,
    /// `pull_request_commits` rows.
    pub commits: i64,
    /// `reviews` rows.
    pub reviews: i64,
}

/// Counts the repository's PR, PR-commit and review rows in this org.
pub async fn row_counts(conn: &mut Conn<'_>, org: OrgId, repo: RepoId) -> Result<RowCounts> {
    let mut out = RowCounts::default();
    for (table, slot) in [
        ("pull_requests", &mut out.pull_requests),
        ("pull_request_commits", &mut out.commits),
        ("reviews", &mut out.reviews),
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE org_id = $1 AND repo_id = $2");
        *slot = on_conn!(conn, c => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(Id::from(org)).bind(Id::from(repo)).fetch_one(&mut *c).await)?;
    }
    Ok(out)
}
