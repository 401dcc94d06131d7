//! `sync_cursors` (analytics spec §3.2): where the next incremental read starts (a tip sha per
//! ref, the largest `updated_at` seen) and the checkpoint inside an unfinished pass.

use chrono::{DateTime, Utc};
use domain::OrgId;
use serde_json::Value;
use uuid::Uuid;

use crate::{Conn, Id, JsonText, Result, Ts, on_conn};

/// A stored cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// The position after the last complete pass.
    pub cursor: Option<String>,
    /// The position inside an unfinished pass.
    pub checkpoint: Option<Value>,
}

/// Which cursor: `source_id` is a repo or integration id, `dataset` one of `commits`,
/// `pull_requests`, `work_items`, `deployments`, `key` a ref name or `""`.
#[derive(Debug, Clone, Copy)]
pub struct CursorKey<'a> {
    /// Repo or integration id.
    pub source_id: Uuid,
    /// Dataset.
    pub dataset: &'a str,
    /// Ref name or `""`.
    pub key: &'a str,
}

/// The cursor, if any.
pub async fn get(conn: &mut Conn<'_>, org: OrgId, k: CursorKey<'_>) -> Result<Option<Cursor>> {
    let row: Option<(Option<String>, Option<JsonText<Value>>)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT cursor, checkpoint FROM sync_cursors \
         WHERE org_id = $1 AND source_id = $2 AND dataset = $3 AND key = $4")
        .bind(Id::from(org)).bind(Id(k.source_id)).bind(k.dataset).bind(k.key)
        .fetch_optional(&mut *c).await)?;
    Ok(row.map(|(cursor, checkpoint)| Cursor {
        cursor,
        checkpoint: checkpoint.map(|j| j.0),
    }))
}

/// Stores the cursor and checkpoint. Callers move a cursor only to a value the run observed
/// (a tip sha it wrote, the largest timestamp it saw), never to "now".
pub async fn set(
    conn: &mut Conn<'_>,
    org: OrgId,
    k: CursorKey<'_>,
    cursor: Option<&str>,
    checkpoint: Option<&Value>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO sync_cursors (org_id, source_id, dataset, key, cursor, checkpoint, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (org_id, source_id, dataset, key) DO UPDATE SET \
         cursor = excluded.cursor, checkpoint = excluded.checkpoint, updated_at = excluded.updated_at")
        .bind(Id::from(org)).bind(Id(k.source_id)).bind(k.dataset).bind(k.key).bind(cursor)
        .bind(checkpoint.map(JsonText)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Forgets the work-item positions of `sources` (repositories for GitHub issues, integrations
/// for Jira and Linear), so their next pass reads every item again: what a status-mapping
/// change needs (analytics spec §7.1).
pub async fn forget_work_items(conn: &mut Conn<'_>, org: OrgId, sources: &[Uuid]) -> Result<()> {
    for source in sources {
        on_conn!(conn, c => sqlx::query(
            "DELETE FROM sync_cursors WHERE org_id = $1 AND source_id = $2 \
             AND dataset = 'work_items'")
            .bind(Id::from(org)).bind(Id(*source))
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}
