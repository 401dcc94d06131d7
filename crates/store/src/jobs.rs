//! The durable job queue: lease-based claiming, retries with backoff, dead letter.
//!
//! A job is `queued` until a worker claims it; the claim sets `running`, increments `attempts`
//! and grants a lease (`lease_owner`, `lease_expires_at`). The worker heartbeats to extend the
//! lease and ends the attempt with [`JobQueue::complete`], [`JobQueue::fail`] (back to `queued`
//! with a later `run_at`, or `dead` once `max_attempts` is used) or [`JobQueue::release`] (on
//! shutdown; the attempt does not count). A worker that dies simply stops heartbeating: once its
//! lease expires the job is claimable again, and the lost attempt is recorded as
//! `lease_expired`. Every attempt is a row in `job_attempts`, which makes "ran exactly once"
//! observable. Every state change is fenced by `lease_owner`, so a worker that lost its lease
//! cannot overwrite the outcome of the worker that took over.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{JobId, OrgId};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::{Backend, Conn, Id, JsonText, Result, Store, StoreError, Ts, on_conn};

const COLUMNS: &str = "id, queue, kind, payload, org_id, status, priority, attempts, max_attempts, \
     run_at, lease_owner, lease_expires_at, last_error, dedupe_key, created_at, updated_at, finished_at";

/// Longest error text kept in `last_error` and `job_attempts.error`.
const MAX_ERROR_LEN: usize = 4096;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for `run_at` and a worker.
    Queued,
    /// Claimed by a worker holding a lease.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Used all its attempts; kept with its last error for inspection and replay.
    Dead,
}

impl JobStatus {
    /// Every status, in life-cycle order.
    pub const ALL: [JobStatus; 4] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Dead,
    ];

    fn parse(s: &str) -> Result<Self> {
        s.parse().map_err(|message| StoreError::Corrupt {
            column: "jobs.status",
            message,
        })
    }

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Dead => "dead",
        }
    }
}

impl std::str::FromStr for JobStatus {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        JobStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown job status {s:?} (expected one of: queued, running, succeeded, dead)"
                )
            })
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Handler name, e.g. `sync.git`.
    pub kind: String,
    /// Queue name; workers poll one or more queues.
    pub queue: String,
    /// Handler input.
    pub payload: Value,
    /// The org the job works for, if any.
    pub org_id: Option<OrgId>,
    /// Higher runs first among ready jobs.
    pub priority: i32,
    /// Attempts before the job is dead-lettered (at least 1).
    pub max_attempts: u32,
    /// Earliest start; `None` means now.
    pub run_at: Option<DateTime<Utc>>,
    /// While a queued or running job has this key (per kind), enqueueing another is a no-op
    /// that returns the existing job.
    pub dedupe_key: Option<String>,
}

impl NewJob {
    /// A job on the `default` queue with 5 attempts, runnable now.
    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
        Self {
            kind: kind.into(),
            queue: "default".into(),
            payload,
            org_id: None,
            priority: 0,
            max_attempts: 5,
            run_at: None,
            dedupe_key: None,
        }
    }
}

/// A stored job.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Queue name.
    pub queue: String,
    /// Handler name.
    pub kind: String,
    /// Handler input.
    pub payload: Value,
    /// The org the job works for, if any.
    pub org_id: Option<OrgId>,
    /// Life-cycle state.
    pub status: JobStatus,
    /// Priority among ready jobs.
    pub priority: i32,
    /// Attempts started so far (released attempts excluded).
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Earliest (next) start.
    pub run_at: DateTime<Utc>,
    /// Worker holding the lease while running.
    pub lease_owner: Option<String>,
    /// End of the current lease.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// Dedupe key.
    pub dedupe_key: Option<String>,
    /// Enqueue time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it succeeded or was dead-lettered.
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: Id,
    queue: String,
    kind: String,
    payload: JsonText<Value>,
    org_id: Option<Id>,
    status: String,
    priority: i32,
    attempts: i32,
    max_attempts: i32,
    run_at: Ts,
    lease_owner: Option<String>,
    lease_expires_at: Option<Ts>,
    last_error: Option<String>,
    dedupe_key: Option<String>,
    created_at: Ts,
    updated_at: Ts,
    finished_at: Option<Ts>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;

    fn try_from(r: JobRow) -> Result<Job> {
        Ok(Job {
            id: r.id.into(),
            queue: r.queue,
            kind: r.kind,
            payload: r.payload.0,
            org_id: r.org_id.map(Into::into),
            status: JobStatus::parse(&r.status)?,
            priority: r.priority,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            max_attempts: u32::try_from(r.max_attempts).unwrap_or(1),
            run_at: r.run_at.get(),
            lease_owner: r.lease_owner,
            lease_expires_at: r.lease_expires_at.map(Ts::get),
            last_error: r.last_error,
            dedupe_key: r.dedupe_key,
            created_at: r.created_at.get(),
            updated_at: r.updated_at.get(),
            finished_at: r.finished_at.map(Ts::get),
        })
    }
}

/// One attempt at running a job.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct JobAttempt {
    /// 1-based attempt number.
    pub attempt: i32,
    /// The worker that ran it.
    pub worker_id: String,
    /// Start of the attempt.
    pub started_at: Ts,
    /// End of the attempt (unset while running).
    pub finished_at: Option<Ts>,
    /// `succeeded`, `failed`, `released`, `lease_expired`, or unset while running.
    pub outcome: Option<String>,
    /// Error text of a failed or lost attempt.
    pub error: Option<String>,
}

/// Result of [`enqueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The new job, or the existing one with the same dedupe key.
    pub id: JobId,
    /// False when an existing job was returned instead.
    pub created: bool,
}

/// Enqueues a job on `conn` — pass a transaction's connection to make the job part of the change
/// that causes it.
pub async fn enqueue(conn: &mut Conn<'_>, job: &NewJob, now: DateTime<Utc>) -> Result<Enqueued> {
    let id = JobId::new();
    let now = Ts::new(now);
    let run_at = job.run_at.map_or(now, Ts::new);
    let max_attempts = i32::try_from(job.max_attempts.max(1)).unwrap_or(i32::MAX);
    let inserted: Option<Id> = on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO jobs (id, queue, kind, payload, org_id, status, priority, attempts, \
         max_attempts, run_at, dedupe_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', $6, 0, $7, $8, $9, $10, $10) \
         ON CONFLICT DO NOTHING RETURNING id")
        .bind(Id::from(id))
        .bind(&job.queue)
        .bind(&job.kind)
        .bind(JsonText(&job.payload))
        .bind(job.org_id.map(Id::from))
        .bind(job.priority)
        .bind(max_attempts)
        .bind(run_at)
        .bind(&job.dedupe_key)
        .bind(now)
        .fetch_optional(&mut *c).await)?;
    if let Some(id) = inserted {
        return Ok(Enqueued {
            id: id.into(),
            created: true,
        });
    }
    let existing: Id = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT id FROM jobs WHERE kind = $1 AND dedupe_key = $2 AND status IN ('queued', 'running')")
        .bind(&job.kind)
        .bind(&job.dedupe_key)
        .fetch_one(&mut *c).await)?;
    Ok(Enqueued {
        id: existing.into(),
        created: false,
    })
}

/// What a worker asks for when it claims.
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    /// Queue to take from.
    pub queue: &'a str,
    /// Unique id of the claiming worker (host, process and task).
    pub worker_id: &'a str,
    /// Maximum number of jobs to take.
    pub limit: u32,
    /// Lease length; the worker must heartbeat before it ends.
    pub lease: Duration,
}

/// Count of jobs per queue and status.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct QueueCount {
    /// Queue name.
    pub queue: String,
    /// Status name.
    pub status: String,
    /// Number of jobs.
    pub count: i64,
}

/// The queue operations that need their own transaction.
#[derive(Debug, Clone, Copy)]
pub struct JobQueue<'s> {
    store: &'s Store,
}

impl Store {
    /// The job queue of this database.
    pub fn jobs(&self) -> JobQueue<'_> {
        JobQueue { store: self }
    }
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> Ts {
    Ts::new(now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX))
}

fn clip(error: &str) -> &str {
    if error.len() <= MAX_ERROR_LEN {
        return error;
    }
    let mut end = MAX_ERROR_LEN;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

impl JobQueue<'_> {
    /// Enqueues in its own transaction.
    pub async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> Result<Enqueued> {
        let mut c = self.store.acquire().await?;
        enqueue(&mut c.conn(), job, now).await
    }

    /// Dead-letters jobs whose worker was lost on their last attempt, then claims up to
    /// `claim.limit` ready jobs and records an attempt for each.
    pub async fn claim(&self, claim: &Claim<'_>, now: DateTime<Utc>) -> Result<Vec<Job>> {
        let mut tx = self.store.begin_write().await?;
        let mut conn = tx.conn();
        let ts = Ts::new(now);
        let lost: Vec<Id> = on_conn!(&mut conn, c => sqlx::query_scalar(
            "UPDATE jobs SET status = 'dead', \
             last_error = 'the worker was lost during the last attempt (lease expired)', \
             lease_owner = NULL, lease_expires_at = NULL, finished_at = $1, updated_at = $1 \
             WHERE status = 'running' AND lease_expires_at <= $1 AND attempts >= max_attempts \
             RETURNING id")
            .bind(ts)
            .fetch_all(&mut *c).await)?;
        for id in lost {
            close_open_attempt(&mut conn, id, "lease_expired", Some("lease expired"), ts).await?;
        }
        let sql = match self.store.backend() {
            Backend::Postgres => include_str!("jobs/claim_postgres.sql"),
            Backend::Sqlite => include_str!("jobs/claim_sqlite.sql"),
        };
        let rows: Vec<JobRow> = on_conn!(&mut conn, c => sqlx::query_as(sql)
            .bind(claim.queue)
            .bind(ts)
            .bind(i64::from(claim.limit))
            .bind(claim.worker_id)
            .bind(lease_end(now, claim.lease))
            .fetch_all(&mut *c).await)?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            let job = Job::try_from(row)?;
            let id = Id::from(job.id);
            close_open_attempt(&mut conn, id, "lease_expired", Some("lease expired"), ts).await?;
            on_conn!(&mut conn, c => sqlx::query(
                "INSERT INTO job_attempts (id, job_id, attempt, worker_id, started_at) \
                 VALUES ($1, $2, $3, $4, $5)")
                .bind(Id(Uuid::now_v7()))
                .bind(id)
                .bind(i32::try_from(job.attempts).unwrap_or(i32::MAX))
                .bind(claim.worker_id)
                .bind(ts)
                .execute(&mut *c).await.map(|r| r.rows_affected()))?;
            jobs.push(job);
        }
        tx.commit().await?;
        Ok(jobs)
    }

    /// Extends the lease. Returns false when the worker no longer holds it.
    pub async fn heartbeat(
        &self,
        id: JobId,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut c = self.store.acquire().await?;
        let done = on_conn!(&mut c.conn(), c => sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1, updated_at = $2 \
             WHERE id = $3 AND lease_owner = $4 AND status = 'running'")
            .bind(lease_end(now, lease))
            .bind(Ts::new(now))
            .bind(Id::from(id))
            .bind(worker_id)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Marks the attempt successful. Returns false when the lease was lost meanwhile.
    pub async fn complete(&self, id: JobId, worker_id: &str, now: DateTime<Utc>) -> Result<bool> {
        let ts = Ts::new(now);
        self.finish(
            id,
            worker_id,
            "UPDATE jobs SET status = 'succeeded', lease_owner = NULL, lease_expires_at = NULL, \
             finished_at = $1, updated_at = $1 \
             WHERE id = $2 AND lease_owner = $3 AND status = 'running' RETURNING status",
            ts,
            None,
            None,
            "succeeded",
        )
        .await
        .map(|s| s.is_some())
    }

    /// Records a failed attempt: the job goes back to `queued` at `retry_at`, or to `dead` when
    /// it has used all its attempts. Returns the new status, or `None` if the lease was lost.
    pub async fn fail(
        &self,
        id: JobId,
        worker_id: &str,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<JobStatus>> {
        self.finish(
            id,
            worker_id,
            "UPDATE jobs SET \
               status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
               run_at = CASE WHEN attempts >= max_attempts THEN run_at ELSE $4 END, \
               finished_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END, \
               last_error = $5, lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
             WHERE id = $2 AND lease_owner = $3 AND status = 'running' RETURNING status",
            Ts::new(now),
            Some(Ts::new(retry_at)),
            Some(clip(error)),
            "failed",
        )
        .await
    }

    /// Gives a claimed job back without counting the attempt (graceful shutdown).
    pub async fn release(&self, id: JobId, worker_id: &str, now: DateTime<Utc>) -> Result<bool> {
        self.finish(
            id,
            worker_id,
            "UPDATE jobs SET status = 'queued', attempts = attempts - 1, run_at = $1, \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
             WHERE id = $2 AND lease_owner = $3 AND status = 'running' RETURNING status",
            Ts::new(now),
            None,
            None,
            "released",
        )
        .await
        .map(|s| s.is_some())
    }

    /// Runs one lease-fenced state change (`$1` now, `$2` id, `$3` worker, optional `$4` retry
    /// time and `$5` error) and closes the worker's open attempt with `outcome`.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        id: JobId,
        worker_id: &str,
        sql: &'static str,
        now: Ts,
        retry_at: Option<Ts>,
        error: Option<&str>,
        outcome: &str,
    ) -> Result<Option<JobStatus>> {
        let mut tx = self.store.begin_write().await?;
        let mut conn = tx.conn();
        let status: Option<String> = on_conn!(&mut conn, c => {
            let mut q = sqlx::query_scalar(sql).bind(now).bind(Id::from(id)).bind(worker_id);
            if let Some(retry_at) = retry_at {
                q = q.bind(retry_at).bind(error);
            }
            q.fetch_optional(&mut *c).await
        })?;
        let Some(status) = status else {
            return Ok(None);
        };
        close_open_attempt(&mut conn, Id::from(id), outcome, error, now).await?;
        tx.commit().await?;
        JobStatus::parse(&status).map(Some)
    }

    /// One job by id.
    pub async fn get(&self, id: JobId) -> Result<Option<Job>> {
        let mut c = self.store.acquire().await?;
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        let row: Option<JobRow> = on_conn!(&mut c.conn(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(Id::from(id))
            .fetch_optional(&mut *c).await)?;
        row.map(Job::try_from).transpose()
    }

    /// The attempts of a job, oldest first.
    pub async fn attempts(&self, id: JobId) -> Result<Vec<JobAttempt>> {
        let mut c = self.store.acquire().await?;
        Ok(on_conn!(&mut c.conn(), c => sqlx::query_as(
            "SELECT attempt, worker_id, started_at, finished_at, outcome, error \
             FROM job_attempts WHERE job_id = $1 ORDER BY started_at, attempt")
            .bind(Id::from(id))
            .fetch_all(&mut *c).await)?)
    }

    /// Number of jobs per queue and status.
    pub async fn counts(&self) -> Result<Vec<QueueCount>> {
        let mut c = self.store.acquire().await?;
        Ok(on_conn!(&mut c.conn(), c => sqlx::query_as(
            "SELECT queue, status, COUNT(*) AS count FROM jobs GROUP BY queue, status \
             ORDER BY queue, status")
            .fetch_all(&mut *c).await)?)
    }

    /// Jobs in a status, oldest first (for `dev-health jobs list`).
    pub async fn list(&self, status: JobStatus, limit: u32) -> Result<Vec<Job>> {
        let mut c = self.store.acquire().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE status = $1 ORDER BY created_at, id LIMIT $2"
        );
        let rows: Vec<JobRow> = on_conn!(&mut c.conn(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(status.as_str())
            .bind(i64::from(limit))
            .fetch_all(&mut *c).await)?;
        rows.into_iter().map(Job::try_from).collect()
    }
}

async fn close_open_attempt(
    conn: &mut Conn<'_>,
    job: Id,
    outcome: &str,
    error: Option<&str>,
    now: Ts,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE job_attempts SET outcome = $1, error = $2, finished_at = $3 \
         WHERE job_id = $4 AND outcome IS NULL")
        .bind(outcome)
        .bind(error)
        .bind(now)
        .bind(job)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}
