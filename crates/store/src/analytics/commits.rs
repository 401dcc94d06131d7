//! `commits` and `commit_files` (analytics spec §2.1): written by the git sync in batches, as
//! idempotent upserts by natural key, so a re-sync never duplicates a row.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use domain::{IdentityId, OrgId, RepoId};

use crate::{Conn, Id, Result, Ts, on_conn};

/// One numstat line to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// Repo-relative path.
    pub path: String,
    /// Lines added (0 when binary).
    pub additions: i64,
    /// Lines deleted (0 when binary).
    pub deletions: i64,
    /// Binary on either side.
    pub is_binary: bool,
    /// `A`, `M`, `D` or `T`.
    pub change: &'static str,
    /// Matches the repo's or org's excluded paths: kept out of churn.
    pub is_excluded: bool,
}

/// One commit to store, with its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommit {
    /// Hex id.
    pub sha: String,
    /// Raw author name.
    pub author_name: String,
    /// Raw author email.
    pub author_email: String,
    /// The resolved identity (after the mailmap).
    pub author_identity_id: Option<IdentityId>,
    /// Author time.
    pub authored_at: DateTime<Utc>,
    /// Raw committer name.
    pub committer_name: String,
    /// Raw committer email.
    pub committer_email: String,
    /// Commit time: the bucket of code metrics.
    pub committed_at: DateTime<Utc>,
    /// Parents (> 1: a merge).
    pub parent_count: i64,
    /// First line of the message.
    pub subject: String,
    /// `complete`, `merge_skipped`, `missing_objects` or `partial`.
    pub stats_state: &'static str,
    /// Numstat lines.
    pub files: Vec<NewFile>,
}

impl NewCommit {
    /// Totals over the files that count (non-binary, non-excluded): `(additions, deletions,
    /// files_changed)`.
    pub fn totals(&self) -> (i64, i64, i64) {
        let (mut a, mut d, mut n) = (0, 0, 0);
        for f in self.files.iter().filter(|f| !f.is_binary && !f.is_excluded) {
            a += f.additions;
            d += f.deletions;
            n += 1;
        }
        (a, d, n)
    }
}

/// Rows per multi-row INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const ROWS_PER_STATEMENT: usize = 500;

/// Upserts commits and their files; call inside a transaction (the sync writes 1,000 at a
/// time). Multi-row statements: a 100,000-commit first sync is bound by diffing, not by
/// statement round trips.
pub async fn upsert(
    conn: &mut Conn<'_>,
    org: OrgId,
    repo: RepoId,
    commits: &[NewCommit],
) -> Result<()> {
    let (org, repo) = (Id::from(org), Id::from(repo));
    for chunk in commits.chunks(ROWS_PER_STATEMENT) {
        on_conn!(conn, x => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO commits (org_id, repo_id, sha, author_name, author_email, \
                 author_identity_id, authored_at, committer_name, committer_email, committed_at, \
                 parent_count, subject, additions, deletions, files_changed, stats_state) ");
            q.push_values(chunk, |mut b, c| {
                let (additions, deletions, files_changed) = c.totals();
                b.push_bind(org).push_bind(repo).push_bind(&c.sha).push_bind(&c.author_name)
                    .push_bind(&c.author_email).push_bind(c.author_identity_id.map(Id::from))
                    .push_bind(Ts::new(c.authored_at)).push_bind(&c.committer_name)
                    .push_bind(&c.committer_email).push_bind(Ts::new(c.committed_at))
                    .push_bind(c.parent_count).push_bind(&c.subject).push_bind(additions)
                    .push_bind(deletions).push_bind(files_changed).push_bind(c.stats_state);
            });
            q.push(
                " ON CONFLICT (org_id, repo_id, sha) DO UPDATE SET \
                 author_name = excluded.author_name, author_email = excluded.author_email, \
                 author_identity_id = excluded.author_identity_id, \
                 authored_at = excluded.authored_at, committer_name = excluded.committer_name, \
                 committer_email = excluded.committer_email, committed_at = excluded.committed_at, \
                 parent_count = excluded.parent_count, subject = excluded.subject, \
                 additions = excluded.additions, deletions = excluded.deletions, \
                 files_changed = excluded.files_changed, stats_state = excluded.stats_state");
            q.build().execute(&mut *x).await.map(|_| ())
        })?;
    }
    let files: Vec<(&str, &NewFile)> = commits
        .iter()
        .flat_map(|c| c.files.iter().map(move |f| (c.sha.as_str(), f)))
        .collect();
    for chunk in files.chunks(ROWS_PER_STATEMENT) {
        on_conn!(conn, x => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO commit_files (org_id, repo_id, sha, path, additions, deletions, \
                 is_binary, change, is_excluded) ");
            q.push_values(chunk, |mut b, (sha, f)| {
                b.push_bind(org).push_bind(repo).push_bind(*sha).push_bind(&f.path)
                    .push_bind(f.additions).push_bind(f.deletions).push_bind(f.is_binary)
                    .push_bind(f.change).push_bind(f.is_excluded);
            });
            q.push(
                " ON CONFLICT (org_id, repo_id, sha, path) DO UPDATE SET \
                 additions = excluded.additions, deletions = excluded.deletions, \
                 is_binary = excluded.is_binary, change = excluded.change, \
                 is_excluded = excluded.is_excluded");
            q.build().execute(&mut *x).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// Every stored sha of a repository: a full re-walk (rewritten history) skips these.
pub async fn shas(conn: &mut Conn<'_>, org: OrgId, repo: RepoId) -> Result<HashSet<String>> {
    let rows: Vec<String> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT sha FROM commits WHERE org_id = $1 AND repo_id = $2")
        .bind(Id::from(org)).bind(Id::from(repo)).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().collect())
}

/// A stored commit's summary, for the API and for tests.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CommitSummary {
    /// Hex id.
    pub sha: String,
    /// Parents.
    pub parent_count: i64,
    /// Counted lines added.
    pub additions: i64,
    /// Counted lines deleted.
    pub deletions: i64,
    /// Numstat lines.
    pub files_changed: i64,
    /// How complete the numstat is.
    pub stats_state: String,
}

/// How many commits a repository has stored.
pub async fn count(conn: &mut Conn<'_>, org: OrgId, repo: RepoId) -> Result<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM commits WHERE org_id = $1 AND repo_id = $2")
        .bind(Id::from(org)).bind(Id::from(repo)).fetch_one(&mut *c).await)?)
}

/// One commit's stored files as `(path, additions, deletions, is_binary, is_excluded)`.
pub async fn files(
    conn: &mut Conn<'_>,
    org: OrgId,
    repo: RepoId,
    sha: &str,
) -> Result<Vec<(String, i64, i64, bool, bool)>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT path, additions, deletions, is_binary, is_excluded FROM commit_files \
         WHERE org_id = $1 AND repo_id = $2 AND sha = $3 ORDER BY path")
        .bind(Id::from(org)).bind(Id::from(repo)).bind(sha).fetch_all(&mut *c).await)?)
}

/// Re-attributes a repository's commits by raw author email (lower-cased), after a mailmap
/// change or an identity merge; returns the rows changed.
pub async fn set_author_identity(
    conn: &mut Conn<'_>,
    org: OrgId,
    repo: RepoId,
    raw_email: &str,
    identity: IdentityId,
) -> Result<u64> {
    Ok(on_conn!(conn, c => sqlx::query(
        "UPDATE commits SET author_identity_id = $4 \
         WHERE org_id = $1 AND repo_id = $2 AND LOWER(author_email) = LOWER($3)")
        .bind(Id::from(org)).bind(Id::from(repo)).bind(raw_email).bind(Id::from(identity))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?)
}
