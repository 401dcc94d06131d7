//! `outbox`: signed entitlements waiting for delivery to ops (billing spec §9). Rows are written
//! in the transaction that changes the entitlement, so nothing is pushed that was not committed
//! and nothing committed is lost.

use chrono::{DateTime, Utc};
use store::{Backend, Conn, Id, Result, Ts, on_conn, sqlx};
use uuid::Uuid;

/// A row's delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for (another) attempt.
    Pending,
    /// ops answered applied or duplicate.
    Delivered,
    /// A newer token for the org replaced it (or ops already holds a newer one).
    Superseded,
    /// Given up; `outbox replay` sets it back to pending.
    Dead,
}

impl Status {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Superseded => "superseded",
            Status::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "delivered" => Status::Delivered,
            "superseded" => Status::Superseded,
            "dead" => Status::Dead,
            _ => Status::Pending,
        }
    }
}

/// An outbox row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Row {
    /// Monotonic id (`X-DevHealth-Delivery`).
    pub id: i64,
    /// The org.
    pub org_id: Uuid,
    /// The receiver's deployment id.
    pub deployment_id: String,
    /// The token's `jti`.
    pub jti: String,
    /// The token's `iat`.
    pub iat: i64,
    /// The signed token.
    #[serde(skip)]
    pub token: String,
    /// Delivery state.
    pub status: Status,
    /// Attempts so far.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// HTTP status of the last attempt.
    pub last_status: Option<i64>,
    /// Error of the last attempt.
    pub last_error: Option<String>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When ops acknowledged it.
    pub delivered_at: Option<DateTime<Utc>>,
}

type Raw = (
    i64,
    Id,
    String,
    String,
    i64,
    String,
    String,
    i64,
    Ts,
    Option<i64>,
    Option<String>,
    Ts,
    Option<Ts>,
);
const COLUMNS: &str = "id, org_id, deployment_id, jti, iat, token, status, attempts, \
    next_attempt_at, last_status, last_error, created_at, delivered_at";

fn row(r: Raw) -> Row {
    Row {
        id: r.0,
        org_id: r.1.0,
        deployment_id: r.2,
        jti: r.3,
        iat: r.4,
        token: r.5,
        status: Status::parse(&r.6),
        attempts: r.7,
        next_attempt_at: r.8.get(),
        last_status: r.9,
        last_error: r.10,
        created_at: r.11.get(),
        delivered_at: r.12.map(Ts::get),
    }
}

/// Enqueues a token for one receiver and supersedes the org's older pending rows for it.
pub async fn enqueue(
    conn: &mut Conn<'_>,
    org: Uuid,
    deployment_id: &str,
    jti: &str,
    iat: i64,
    token: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE outbox SET status = 'superseded' WHERE org_id = $1 AND deployment_id = $2 AND status = 'pending'",
    )
    .bind(Id(org))
    .bind(deployment_id)
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO outbox (org_id, deployment_id, jti, iat, token, status, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) RETURNING id",
    )
    .bind(Id(org))
    .bind(deployment_id)
    .bind(jti)
    .bind(iat)
    .bind(token)
    .bind(Ts::new(now))
    .fetch_one(&mut *c)
    .await)?)
}

/// Pending rows due at `now`, oldest first, leased until `lease_until` (their next attempt moves
/// there, so no other worker takes them meanwhile). Selected with `SKIP LOCKED` on PostgreSQL
/// so that several license-svc replicas never claim the same row. Call inside a transaction.
pub async fn claim_due(
    conn: &mut Conn<'_>,
    now: DateTime<Utc>,
    limit: i64,
    lease_until: DateTime<Utc>,
) -> Result<Vec<Row>> {
    let lock = match conn.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
         ORDER BY id LIMIT $2{lock}"
    );
    let rows: Vec<Raw> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(Ts::new(now))
        .bind(limit)
        .fetch_all(&mut *c)
        .await)?;
    for r in &rows {
        on_conn!(conn, c => sqlx::query("UPDATE outbox SET next_attempt_at = $2 WHERE id = $1")
            .bind(r.0)
            .bind(Ts::new(lease_until))
            .execute(&mut *c)
            .await.map(|r| r.rows_affected()))?;
    }
    Ok(rows.into_iter().map(row).collect())
}

/// Records an attempt's result. A row superseded while its push was in flight (a newer token
/// for the org was enqueued meanwhile) still records a delivery: ops did receive it. Any other
/// result leaves a superseded row alone; the newer row carries the org's state.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    conn: &mut Conn<'_>,
    id: i64,
    status: Status,
    attempts: i64,
    next_attempt_at: DateTime<Utc>,
    last_status: Option<i64>,
    last_error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let delivered = (status == Status::Delivered).then(|| Ts::new(now));
    on_conn!(conn, c => sqlx::query(
        "UPDATE outbox SET status = $2, attempts = $3, next_attempt_at = $4, last_status = $5, \
         last_error = $6, delivered_at = $7 WHERE id = $1 \
         AND (status = 'pending' OR (status = 'superseded' AND $2 = 'delivered'))",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(attempts)
    .bind(Ts::new(next_attempt_at))
    .bind(last_status)
    .bind(last_error)
    .bind(delivered)
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Rows, newest first, optionally one status or org.
pub async fn list(
    conn: &mut Conn<'_>,
    status: Option<Status>,
    org: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Row>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outbox WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR org_id = $2) \
         ORDER BY id DESC LIMIT $3"
    );
    let rows: Vec<Raw> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(status.map(Status::as_str))
        .bind(org.map(Id))
        .bind(limit)
        .fetch_all(&mut *c)
        .await)?;
    Ok(rows.into_iter().map(row).collect())
}

/// Sets rows back to pending with no attempts: one row, an org's dead rows, or every dead row.
pub async fn replay(
    conn: &mut Conn<'_>,
    id: Option<i64>,
    org: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let done = on_conn!(conn, c => sqlx::query(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $3, created_at = $3 \
         WHERE ($1 IS NULL OR id = $1) AND ($2 IS NULL OR org_id = $2) \
         AND (status = 'dead' OR ($1 IS NOT NULL AND status <> 'pending'))",
    )
    .bind(id)
    .bind(org.map(Id))
    .bind(Ts::new(now))
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(done)
}

/// `(pending, oldest pending created_at, dead)` for `/readyz` and the metrics.
pub async fn stats(conn: &mut Conn<'_>) -> Result<(i64, Option<DateTime<Utc>>, i64)> {
    let (pending, oldest, dead): (i64, Option<Ts>, i64) = on_conn!(conn, c => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM outbox WHERE status = 'pending'), \
                (SELECT MIN(created_at) FROM outbox WHERE status = 'pending'), \
                (SELECT COUNT(*) FROM outbox WHERE status = 'dead')",
    )
    .fetch_one(&mut *c)
    .await)?;
    Ok((pending, oldest.map(Ts::get), dead))
}

/// The token of the org's newest row for a receiver, whatever its status.
pub async fn latest_token(
    conn: &mut Conn<'_>,
    org: Uuid,
    deployment_id: &str,
) -> Result<Option<String>> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT token FROM outbox WHERE org_id = $1 AND deployment_id = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(Id(org))
    .bind(deployment_id)
    .fetch_optional(&mut *c)
    .await)?)
}
