//! `sync_runs` (analytics spec §3.1): one row per run of one source and dataset. At most one
//! run per (org, source, dataset) is queued or running — a partial unique index enforces it, so
//! a second trigger gets the existing run back instead of racing it.

use chrono::{DateTime, Utc};
use domain::{OrgId, SyncRunId};
use serde_json::Value;
use uuid::Uuid;

use crate::{Conn, Id, JsonText, Result, StoreError, Ts, on_conn};

/// A stored run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SyncRun {
    /// Id.
    pub id: SyncRunId,
    /// Repo or integration id.
    pub source_id: Uuid,
    /// `commits`, `pull_requests`, `work_items` or `deployments`.
    pub dataset: String,
    /// `schedule`, `manual`, `webhook` or `cli`.
    pub trigger: String,
    /// `queued`, `running`, `succeeded`, `partial`, `failed`, `deferred` or `canceled`.
    pub status: String,
    /// When it started running.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// `{phase, done, total, unit, rate_per_s, message}`.
    pub progress: Option<Value>,
    /// What it read and wrote.
    pub counts: Option<Value>,
    /// Seconds spent waiting on provider rate limits.
    pub rate_limit_wait_s: i64,
    /// When a deferred run resumes.
    pub resume_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error_code: Option<String>,
    /// A readable message for the failure.
    pub error_message: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Id,
    source_id: Id,
    dataset: String,
    trigger: String,
    status: String,
    started_at: Option<Ts>,
    finished_at: Option<Ts>,
    progress: Option<JsonText<Value>>,
    counts: Option<JsonText<Value>>,
    rate_limit_wait_s: i64,
    resume_at: Option<Ts>,
    error_code: Option<String>,
    error_message: Option<String>,
    created_at: Ts,
}

impl From<Row> for SyncRun {
    fn from(r: Row) -> SyncRun {
        SyncRun {
            id: r.id.into(),
            source_id: r.source_id.0,
            dataset: r.dataset,
            trigger: r.trigger,
            status: r.status,
            started_at: r.started_at.map(Ts::get),
            finished_at: r.finished_at.map(Ts::get),
            progress: r.progress.map(|j| j.0),
            counts: r.counts.map(|j| j.0),
            rate_limit_wait_s: r.rate_limit_wait_s,
            resume_at: r.resume_at.map(Ts::get),
            error_code: r.error_code,
            error_message: r.error_message,
            created_at: r.created_at.get(),
        }
    }
}

const COLUMNS: &str = "id, source_id, dataset, \"trigger\", status, started_at, finished_at, \
     progress, counts, rate_limit_wait_s, resume_at, error_code, error_message, created_at";

/// What starts a run.
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    /// Repo or integration id.
    pub source_id: Uuid,
    /// Dataset.
    pub dataset: &'a str,
    /// Trigger.
    pub trigger: &'a str,
    /// `queued` (a job will run it) or `running` (the caller runs it now).
    pub status: &'a str,
}

/// Creates a run, or returns the queued or running one of the same source and dataset
/// (`false`: nothing was created).
pub async fn create_or_existing(
    conn: &mut Conn<'_>,
    org: OrgId,
    run: NewRun<'_>,
    now: DateTime<Utc>,
) -> Result<(SyncRun, bool)> {
    // The running run can finish between a refused insert and the read: try again then.
    for _ in 0..3 {
        let id = SyncRunId::new();
        let started = (run.status == "running").then(|| Ts::new(now));
        let inserted = on_conn!(conn, c => sqlx::query(
            "INSERT INTO sync_runs (org_id, id, source_id, dataset, \"trigger\", status, \
             started_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING")
            .bind(Id::from(org)).bind(Id::from(id)).bind(Id(run.source_id)).bind(run.dataset)
            .bind(run.trigger).bind(run.status).bind(started).bind(Ts::new(now))
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if inserted == 1
            && let Some(created) = get(conn, org, id).await?
        {
            return Ok((created, true));
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM sync_runs WHERE org_id = $1 AND source_id = $2 \
             AND dataset = $3 AND status IN ('queued', 'running')"
        );
        let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(Id::from(org)).bind(Id(run.source_id)).bind(run.dataset)
            .fetch_optional(&mut *c).await)?;
        if let Some(existing) = row {
            return Ok((existing.into(), false));
        }
    }
    Err(StoreError::corrupt(
        "sync_runs",
        "a run could neither be created nor found",
    ))
}

/// Marks a queued run as running.
pub async fn start(
    conn: &mut Conn<'_>,
    org: OrgId,
    id: SyncRunId,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE sync_runs SET status = 'running', started_at = COALESCE(started_at, $3) \
         WHERE org_id = $1 AND id = $2")
        .bind(Id::from(org)).bind(Id::from(id)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Stores the progress document (callers write at most once per second and on phase changes).
pub async fn progress(
    conn: &mut Conn<'_>,
    org: OrgId,
    id: SyncRunId,
    progress: &Value,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE sync_runs SET progress = $3 WHERE org_id = $1 AND id = $2")
        .bind(Id::from(org)).bind(Id::from(id)).bind(JsonText(progress))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    /// `succeeded`, `partial`, `failed`, `deferred` or `canceled`.
    pub status: &'a str,
    /// What it read and wrote.
    pub counts: &'a Value,
    /// Why it failed.
    pub error_code: Option<&'a str>,
    /// A readable message for the failure.
    pub error_message: Option<&'a str>,
    /// When a deferred run resumes.
    pub resume_at: Option<DateTime<Utc>>,
}

/// Ends a run.
pub async fn finish(
    conn: &mut Conn<'_>,
    org: OrgId,
    id: SyncRunId,
    outcome: &Outcome<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE sync_runs SET status = $3, counts = $4, error_code = $5, error_message = $6, \
         resume_at = $7, finished_at = $8 WHERE org_id = $1 AND id = $2")
        .bind(Id::from(org)).bind(Id::from(id)).bind(outcome.status)
        .bind(JsonText(outcome.counts)).bind(outcome.error_code).bind(outcome.error_message)
        .bind(outcome.resume_at.map(Ts::new)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Adds seconds spent waiting on provider rate limits and backoff
/// (`rate_limit_wait_s`, §3.3), so a run's cost in waiting is visible.
pub async fn add_wait(conn: &mut Conn<'_>, org: OrgId, id: SyncRunId, secs: i64) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE sync_runs SET rate_limit_wait_s = rate_limit_wait_s + $3 \
         WHERE org_id = $1 AND id = $2")
        .bind(Id::from(org)).bind(Id::from(id)).bind(secs)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// One run of the org.
pub async fn get(conn: &mut Conn<'_>, org: OrgId, id: SyncRunId) -> Result<Option<SyncRun>> {
    let sql = format!("SELECT {COLUMNS} FROM sync_runs WHERE org_id = $1 AND id = $2");
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(Id::from(org)).bind(Id::from(id)).fetch_optional(&mut *c).await)?;
    Ok(row.map(SyncRun::from))
}

/// The org's runs, newest first, optionally of one status and created at or after `since`.
pub async fn list(
    conn: &mut Conn<'_>,
    org: OrgId,
    status: Option<&str>,
    since: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<SyncRun>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sync_runs WHERE org_id = $1 \
         AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR created_at >= $3) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    );
    let rows: Vec<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(Id::from(org)).bind(status).bind(since.map(Ts::new)).bind(limit)
        .fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(SyncRun::from).collect())
}

/// The newest run of one source and dataset.
pub async fn latest_for_source(
    conn: &mut Conn<'_>,
    org: OrgId,
    source_id: Uuid,
    dataset: &str,
) -> Result<Option<SyncRun>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sync_runs WHERE org_id = $1 AND source_id = $2 AND dataset = $3 \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    );
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(Id::from(org)).bind(Id(source_id)).bind(dataset).fetch_optional(&mut *c).await)?;
    Ok(row.map(SyncRun::from))
}
