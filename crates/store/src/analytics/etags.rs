//! `http_etags` (analytics spec §3.3): the `ETag` last seen per `url_key` of an integration, so
//! the next run sends `If-None-Match` and an unchanged list costs one `304`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::{IntegrationId, OrgId};

use crate::{Conn, Id, Result, Ts, on_conn};

/// Every stored ETag of the integration, by `url_key`.
pub async fn load(
    conn: &mut Conn<'_>,
    org: OrgId,
    integration: IntegrationId,
) -> Result<HashMap<String, String>> {
    let rows: Vec<(String, String)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT url_key, etag FROM http_etags WHERE org_id = $1 AND integration_id = $2")
        .bind(Id::from(org)).bind(Id::from(integration)).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().collect())
}

/// Stores (or replaces) ETags by `url_key`.
pub async fn store(
    conn: &mut Conn<'_>,
    org: OrgId,
    integration: IntegrationId,
    etags: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<()> {
    for (key, etag) in etags {
        on_conn!(conn, c => sqlx::query(
            "INSERT INTO http_etags (org_id, integration_id, url_key, etag, stored_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, integration_id, url_key) \
             DO UPDATE SET etag = excluded.etag, stored_at = excluded.stored_at")
            .bind(Id::from(org)).bind(Id::from(integration)).bind(key).bind(etag)
            .bind(Ts::new(now))
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// Drops the integration's ETags whose `url_key` contains `part` (every one for `""`), so a
/// list that must be read again is not answered `304`.
pub async fn forget(
    conn: &mut Conn<'_>,
    org: OrgId,
    integration: IntegrationId,
    part: &str,
) -> Result<()> {
    let pattern = format!("%{part}%");
    on_conn!(conn, c => sqlx::query(
        "DELETE FROM http_etags WHERE org_id = $1 AND integration_id = $2 AND url_key LIKE $3")
        .bind(Id::from(org)).bind(Id::from(integration)).bind(&pattern)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
