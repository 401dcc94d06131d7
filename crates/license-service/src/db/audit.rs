//! `admin_audit`: append-only record of every CLI or admin-API mutation (billing spec §4, §13).

use chrono::{DateTime, Utc};
use serde_json::Value;
use store::{Conn, Result, Ts, on_conn, sqlx};

/// Appends one entry.
pub async fn append(
    conn: &mut Conn<'_>,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    target: &str,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO admin_audit (at, actor, action, target, before, after) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Ts::new(at))
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(before.map(|v| v.to_string()))
    .bind(after.map(|v| v.to_string()))
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// `(actor, action, target)` of every entry, oldest first (tests and `audit list`).
pub async fn list(conn: &mut Conn<'_>) -> Result<Vec<(String, String, String)>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT actor, action, target FROM admin_audit ORDER BY id",
    )
    .fetch_all(&mut *c)
    .await)?)
}
