//! `one_time_tokens`: email verification and password reset links, stored as SHA-256.

use chrono::{DateTime, Utc};
use domain::UserId;
use uuid::Uuid;

use crate::{Conn, Id, Result, Ts, on_conn};

/// Stores a token, deleting the user's unused tokens of the same purpose first.
pub async fn issue(
    conn: &mut Conn<'_>,
    purpose: &str,
    user: UserId,
    email_norm: &str,
    hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "DELETE FROM one_time_tokens WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL")
        .bind(Id::from(user)).bind(purpose).execute(&mut *c).await.map(|_| ()))?;
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO one_time_tokens (id, purpose, user_id, email_norm_at_issue, token_hash, \
           created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(Id(Uuid::now_v7())).bind(purpose).bind(Id::from(user)).bind(email_norm).bind(hash)
        .bind(Ts::new(now)).bind(Ts::new(expires_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The user and issue-time email of an unused, unexpired token, without consuming it.
pub async fn peek(
    conn: &mut Conn<'_>,
    purpose: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(UserId, String)>> {
    let row: Option<(Id, String)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT user_id, email_norm_at_issue FROM one_time_tokens \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3")
        .bind(hash).bind(purpose).bind(Ts::new(now)).fetch_optional(&mut *c).await)?;
    Ok(row.map(|(u, e)| (u.into(), e)))
}

/// Consumes an unused, unexpired token in one statement (so two concurrent uses cannot both
/// succeed); returns its user and issue-time email.
pub async fn consume(
    conn: &mut Conn<'_>,
    purpose: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(UserId, String)>> {
    let row: Option<(Id, String)> = on_conn!(conn, c => sqlx::query_as(
        "UPDATE one_time_tokens SET used_at = $3 \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
         RETURNING user_id, email_norm_at_issue")
        .bind(hash).bind(purpose).bind(Ts::new(now)).fetch_optional(&mut *c).await)?;
    Ok(row.map(|(u, e)| (u.into(), e)))
}
