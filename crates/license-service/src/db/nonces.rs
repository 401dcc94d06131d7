//! `request_nonces`: one-time nonces of HMAC-signed requests (billing spec §6.1 step 4).

use chrono::{DateTime, Utc};
use store::{Conn, Result, Ts, on_conn, sqlx};

/// Records a nonce; `false` when it was already used (a replay).
pub async fn insert(
    conn: &mut Conn<'_>,
    kid: &str,
    nonce: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool> {
    let done = on_conn!(conn, c => sqlx::query(
        "INSERT INTO request_nonces (kid, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(kid)
    .bind(nonce)
    .bind(Ts::new(expires_at))
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Deletes expired nonces; returns how many.
pub async fn purge(conn: &mut Conn<'_>, now: DateTime<Utc>) -> Result<u64> {
    let done = on_conn!(conn, c => sqlx::query("DELETE FROM request_nonces WHERE expires_at < $1")
        .bind(Ts::new(now))
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    Ok(done)
}
