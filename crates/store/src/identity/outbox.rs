//! `email_outbox`: mail written in the same transaction as the change that causes it, sent
//! later by a job. Payloads are encrypted by the caller and blanked once sent.

use chrono::{DateTime, Utc};
use domain::OrgId;
use uuid::Uuid;

use crate::{Conn, Id, Result, Ts, on_conn};

/// A queued mail.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Email {
    /// Id.
    pub id: Id,
    /// Recipient (normalized).
    pub to_norm: String,
    /// Template name.
    pub template: String,
    /// Encrypted payload (None once sent).
    pub payload_enc: Option<String>,
    /// Queue time.
    pub created_at: Ts,
    /// Send attempts.
    pub attempts: i32,
    /// When it was sent.
    pub sent_at: Option<Ts>,
}

/// Queues a mail.
pub async fn insert(
    conn: &mut Conn<'_>,
    id: Uuid,
    org: Option<OrgId>,
    to_norm: &str,
    template: &str,
    payload_enc: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO email_outbox (id, org_id, to_norm, template, payload_enc, created_at, \
           next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)")
        .bind(Id(id)).bind(org.map(Id::from)).bind(to_norm).bind(template).bind(payload_enc)
        .bind(Ts::new(now)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

const COLUMNS: &str = "id, to_norm, template, payload_enc, created_at, attempts, sent_at";

/// One mail.
pub async fn get(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<Email>> {
    let sql = format!("SELECT {COLUMNS} FROM email_outbox WHERE id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Id(id)).fetch_optional(&mut *c).await)?)
}

/// Mails to one address, oldest first.
pub async fn to_address(conn: &mut Conn<'_>, to_norm: &str) -> Result<Vec<Email>> {
    let sql = format!("SELECT {COLUMNS} FROM email_outbox WHERE to_norm = $1 ORDER BY id");
    Ok(on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(to_norm).fetch_all(&mut *c).await)?)
}

/// Counts the mails queued to an address since `since` from one template family (the
/// per-address cap).
pub async fn count_since(conn: &mut Conn<'_>, to_norm: &str, since: DateTime<Utc>) -> Result<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM email_outbox WHERE to_norm = $1 AND created_at > $2")
        .bind(to_norm).bind(Ts::new(since)).fetch_one(&mut *c).await)?)
}

/// Marks a mail sent and blanks its payload (one-time links must not outlive delivery).
pub async fn mark_sent(conn: &mut Conn<'_>, id: Uuid, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE email_outbox SET sent_at = $2, payload_enc = NULL, attempts = attempts + 1, \
           last_error = NULL WHERE id = $1")
        .bind(Id(id)).bind(Ts::new(now)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Records a failed send.
pub async fn mark_failed(
    conn: &mut Conn<'_>,
    id: Uuid,
    error: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE email_outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 \
         WHERE id = $1")
        .bind(Id(id)).bind(error).bind(Ts::new(now)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
