//! `status_mappings` (analytics spec §7.1): the org's own raw status (and GitHub label) →
//! normalised status rows, which win over the built-in tables. Raw values are stored
//! normalised (trimmed, lower-cased, whitespace collapsed) by the caller.

use domain::OrgId;

use crate::{Conn, Id, Result, on_conn};

/// One mapping row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// `jira`, `linear` or `github`.
    pub provider: String,
    /// `status` or `label`.
    pub match_kind: String,
    /// The normalised raw value.
    pub raw_value: String,
    /// The normalised status it maps to.
    pub status: String,
}

/// Every mapping of the org.
pub async fn list(conn: &mut Conn<'_>, org: OrgId) -> Result<Vec<Mapping>> {
    let rows: Vec<(String, String, String, String)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT provider, match_kind, raw_value, status FROM status_mappings WHERE org_id = $1 \
         ORDER BY provider, match_kind, raw_value")
        .bind(Id::from(org)).fetch_all(&mut *c).await)?;
    Ok(rows
        .into_iter()
        .map(|(provider, match_kind, raw_value, status)| Mapping {
            provider,
            match_kind,
            raw_value,
            status,
        })
        .collect())
}

/// Inserts or replaces a mapping.
pub async fn set(conn: &mut Conn<'_>, org: OrgId, m: &Mapping) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO status_mappings (org_id, provider, match_kind, raw_value, status) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, provider, match_kind, raw_value) \
         DO UPDATE SET status = excluded.status")
        .bind(Id::from(org)).bind(&m.provider).bind(&m.match_kind).bind(&m.raw_value)
        .bind(&m.status)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Removes a mapping; false when there was none.
pub async fn delete(
    conn: &mut Conn<'_>,
    org: OrgId,
    provider: &str,
    match_kind: &str,
    raw_value: &str,
) -> Result<bool> {
    let n = on_conn!(conn, c => sqlx::query(
        "DELETE FROM status_mappings WHERE org_id = $1 AND provider = $2 AND match_kind = $3 \
         AND raw_value = $4")
        .bind(Id::from(org)).bind(provider).bind(match_kind).bind(raw_value)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
