//! Commits with their files in a window (analytics spec §9.3, bucket `committed_at`): the
//! input of the code metrics. Files are read for non-merge commits only, because merge
//! commits never count towards additions, deletions or files changed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::{OrgId, RepoId};

use super::{Arg, Scope, Sql, fetch_built};
use crate::{Conn, Id, Result, Ts};

/// One numstat line of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    /// Repo-relative path.
    pub path: String,
    /// Lines added.
    pub additions: i64,
    /// Lines deleted.
    pub deletions: i64,
    /// Binary files do not count towards churn.
    pub is_binary: bool,
    /// Excluded paths (lockfiles, vendored code) do not count towards churn.
    pub is_excluded: bool,
}

/// One commit in the window, with its files (none for merges).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRow {
    /// The repository (the same sha may appear in several).
    pub repo_id: RepoId,
    /// The commit id.
    pub sha: String,
    /// The bucket time.
    pub committed_at: DateTime<Utc>,
    /// More than one: a merge commit.
    pub parent_count: i64,
    /// Files, sorted by path.
    pub files: Vec<FileRow>,
}

#[derive(sqlx::FromRow)]
struct Row {
    repo_id: Id,
    sha: String,
    committed_at: Ts,
    parent_count: i64,
    path: Option<String>,
    additions: Option<i64>,
    deletions: Option<i64>,
    is_binary: Option<bool>,
    is_excluded: Option<bool>,
}

/// The commits of `scope` committed in `[from, to)`, ordered by time, sha and repository (the
/// order is the same on both backends; paths are sorted here, not by a collation).
pub async fn commits(
    conn: &mut Conn<'_>,
    org: OrgId,
    scope: &Scope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<CommitRow>> {
    let mut sql = Sql::new(org);
    let (f, t) = (
        sql.arg(Arg::Ts(Ts::new(from))),
        sql.arg(Arg::Ts(Ts::new(to))),
    );
    sql.push(&format!(
        "SELECT c.repo_id, c.sha, c.committed_at, c.parent_count, f.path, f.additions, \
         f.deletions, f.is_binary, f.is_excluded FROM commits c LEFT JOIN commit_files f \
         ON f.org_id = c.org_id AND f.repo_id = c.repo_id AND f.sha = c.sha \
         AND c.parent_count <= 1 \
         WHERE c.org_id = $1 AND c.committed_at >= {f} AND c.committed_at < {t}"
    ));
    sql.repo("c.repo_id", scope);
    sql.who("c.author_identity_id", scope);
    let rows: Vec<Row> = fetch_built!(conn, sql, Row)?;
    let mut by_key: BTreeMap<(DateTime<Utc>, String, Id), CommitRow> = BTreeMap::new();
    for r in rows {
        let key = (r.committed_at.get(), r.sha.clone(), r.repo_id);
        let commit = by_key.entry(key).or_insert_with(|| CommitRow {
            repo_id: r.repo_id.into(),
            sha: r.sha,
            committed_at: r.committed_at.get(),
            parent_count: r.parent_count,
            files: Vec::new(),
        });
        if let Some(path) = r.path {
            commit.files.push(FileRow {
                path,
                additions: r.additions.unwrap_or(0),
                deletions: r.deletions.unwrap_or(0),
                is_binary: r.is_binary.unwrap_or(false),
                is_excluded: r.is_excluded.unwrap_or(false),
            });
        }
    }
    Ok(by_key
        .into_values()
        .map(|mut c| {
            c.files.sort_by(|a, b| a.path.cmp(&b.path));
            c
        })
        .collect())
}
