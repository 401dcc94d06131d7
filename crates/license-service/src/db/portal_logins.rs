//! `portal_logins`: single-use magic links of the self-hosted portal, stored hashed (billing
//! spec §4, §12 step 6).

use chrono::{DateTime, Utc};
use store::{Conn, Id, Result, Ts, on_conn, sqlx};
use uuid::Uuid;

/// Stores a link's hash.
pub async fn insert(
    conn: &mut Conn<'_>,
    sha256: &str,
    customer: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO portal_logins (token_sha256, customer_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(sha256)
    .bind(Id(customer))
    .bind(Ts::new(expires_at))
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Uses a link once: the customer when it is known, unused and unexpired.
pub async fn consume(
    conn: &mut Conn<'_>,
    sha256: &str,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>> {
    let row: Option<(Id,)> = on_conn!(conn, c => sqlx::query_as(
        "UPDATE portal_logins SET used_at = $2 WHERE token_sha256 = $1 AND used_at IS NULL \
         AND expires_at > $2 RETURNING customer_id",
    )
    .bind(sha256)
    .bind(Ts::new(now))
    .fetch_optional(&mut *c)
    .await)?;
    Ok(row.map(|r| r.0.0))
}
