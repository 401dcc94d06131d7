//! `repos`: the repositories an org syncs (local paths, GitHub and GitLab), counted against the
//! `repos` limit while active.

use chrono::{DateTime, Utc};
use domain::{IntegrationId, OrgId, RepoId};

use crate::{Conn, Id, JsonText, Result, Ts, on_conn};

/// A stored repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// Id.
    pub id: RepoId,
    /// The integration holding its credential (none for local paths).
    pub integration_id: Option<IntegrationId>,
    /// `local`, `github` or `gitlab`.
    pub provider: String,
    /// The provider's id (GitLab project id, GitHub node id).
    pub external_id: Option<String>,
    /// `owner/name` for hosted repos, the directory name for local ones; unique per provider.
    pub full_name: String,
    /// The branch synced by default.
    pub default_branch: Option<String>,
    /// The local repository path (self-hosted local sync only).
    pub local_path: Option<String>,
    /// Whether it is synced and counted against the `repos` limit.
    pub is_active: bool,
    /// Extra excluded path globs (§4), on top of the defaults.
    pub excluded_paths: Vec<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// What a new repository is made from.
#[derive(Debug, Clone)]
pub struct NewRepo<'a> {
    /// The integration holding its credential.
    pub integration_id: Option<IntegrationId>,
    /// `local`, `github` or `gitlab`.
    pub provider: &'a str,
    /// The provider's id.
    pub external_id: Option<&'a str>,
    /// Unique name per provider.
    pub full_name: &'a str,
    /// The branch synced by default.
    pub default_branch: Option<&'a str>,
    /// The local path.
    pub local_path: Option<&'a str>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Id,
    integration_id: Option<Id>,
    provider: String,
    external_id: Option<String>,
    full_name: String,
    default_branch: Option<String>,
    local_path: Option<String>,
    is_active: bool,
    excluded_paths: JsonText<Vec<String>>,
    created_at: Ts,
}

impl From<Row> for Repo {
    fn from(r: Row) -> Repo {
        Repo {
            id: r.id.into(),
            integration_id: r.integration_id.map(Into::into),
            provider: r.provider,
            external_id: r.external_id,
            full_name: r.full_name,
            default_branch: r.default_branch,
            local_path: r.local_path,
            is_active: r.is_active,
            excluded_paths: r.excluded_paths.0,
            created_at: r.created_at.get(),
        }
    }
}

const COLUMNS: &str = "id, integration_id, provider, external_id, full_name, default_branch, \
     local_path, is_active, excluded_paths, created_at";

/// Inserts an active repository, or returns the id of the one with the same provider and name
/// (which keeps its other fields).
pub async fn insert_or_get(
    conn: &mut Conn<'_>,
    org: OrgId,
    repo: &NewRepo<'_>,
    now: DateTime<Utc>,
) -> Result<(RepoId, bool)> {
    if let Some(existing) = by_name(conn, org, repo.provider, repo.full_name).await? {
        return Ok((existing.id, false));
    }
    let id = RepoId::new();
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO repos (org_id, id, integration_id, provider, external_id, full_name, \
         default_branch, local_path, is_active, excluded_paths, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, '[]', $9, $9)")
        .bind(Id::from(org)).bind(Id::from(id)).bind(repo.integration_id.map(Id::from))
        .bind(repo.provider).bind(repo.external_id).bind(repo.full_name)
        .bind(repo.default_branch).bind(repo.local_path).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok((id, true))
}

/// One repository of the org.
pub async fn get(conn: &mut Conn<'_>, org: OrgId, id: RepoId) -> Result<Option<Repo>> {
    let sql = format!("SELECT {COLUMNS} FROM repos WHERE org_id = $1 AND id = $2");
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(Id::from(org)).bind(Id::from(id)).fetch_optional(&mut *c).await)?;
    Ok(row.map(Repo::from))
}

/// One repository of the org by provider and name.
pub async fn by_name(
    conn: &mut Conn<'_>,
    org: OrgId,
    provider: &str,
    full_name: &str,
) -> Result<Option<Repo>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM repos WHERE org_id = $1 AND provider = $2 AND full_name = $3"
    );
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(Id::from(org)).bind(provider).bind(full_name).fetch_optional(&mut *c).await)?;
    Ok(row.map(Repo::from))
}

/// Every repository of the org, by name.
pub async fn list(conn: &mut Conn<'_>, org: OrgId) -> Result<Vec<Repo>> {
    let sql = format!("SELECT {COLUMNS} FROM repos WHERE org_id = $1 ORDER BY full_name, id");
    let rows: Vec<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(Id::from(org)).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(Repo::from).collect())
}

/// Active repositories: the usage of the `repos` limit.
pub async fn count_active(conn: &mut Conn<'_>, org: OrgId) -> Result<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM repos WHERE org_id = $1 AND is_active = TRUE")
        .bind(Id::from(org)).fetch_one(&mut *c).await)?)
}

/// Turns syncing of a repository on or off; false when it does not exist in this org.
pub async fn set_active(
    conn: &mut Conn<'_>,
    org: OrgId,
    id: RepoId,
    active: bool,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_conn!(conn, c => sqlx::query(
        "UPDATE repos SET is_active = $3, updated_at = $4 WHERE org_id = $1 AND id = $2")
        .bind(Id::from(org)).bind(Id::from(id)).bind(active).bind(Ts::new(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Replaces the repository's extra excluded path globs; false when it does not exist.
pub async fn set_excluded_paths(
    conn: &mut Conn<'_>,
    org: OrgId,
    id: RepoId,
    globs: &[String],
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_conn!(conn, c => sqlx::query(
        "UPDATE repos SET excluded_paths = $3, updated_at = $4 WHERE org_id = $1 AND id = $2")
        .bind(Id::from(org)).bind(Id::from(id)).bind(JsonText(globs)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The orgs with something to sync on a schedule: an active repository or an enabled
/// integration. The only cross-org read of the sync tables (the worker's scheduler).
pub async fn orgs_with_sources(conn: &mut Conn<'_>) -> Result<Vec<OrgId>> {
    let rows: Vec<Id> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT org_id FROM repos WHERE is_active = TRUE \
         UNION SELECT org_id FROM integrations WHERE enabled = TRUE")
        .fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}
