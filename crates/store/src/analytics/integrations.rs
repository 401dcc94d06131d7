//! `integrations` (analytics spec §2.1, §3.4): one provider credential per row. The token is
//! stored only as an envelope sealed by `app` (AES-256-GCM, bound to this row and org), with
//! the key id beside it for rotation and the last four characters as the only readable part.
//! This module never sees a plaintext token.

use chrono::{DateTime, Utc};
use domain::{IntegrationId, OrgId};
use serde_json::Value;

use crate::{Conn, Id, JsonText, Result, Ts, on_conn};

/// A stored integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    /// Id.
    pub id: IntegrationId,
    /// `github`, `gitlab`, `jira`, `linear` or `local`.
    pub provider: String,
    /// API base URL (GitHub/GitLab API root, Jira site, Linear GraphQL endpoint).
    pub base_url: Option<String>,
    /// How the token is presented: `bearer`, `private_token`, `basic` or `plain`.
    pub auth_kind: String,
    /// The sealed token envelope (never the token).
    pub secret_ct: Option<String>,
    /// The key id that sealed it (rotation re-encrypts rows of old ids).
    pub secret_key_id: Option<String>,
    /// The token's last four characters: all the UI ever shows.
    pub token_hint: Option<String>,
    /// Provider settings that are not secret (Jira email, projects, story-point field).
    pub settings: Value,
    /// Minutes between scheduled syncs.
    pub sync_interval_min: i64,
    /// Whether scheduled syncs run.
    pub enabled: bool,
    /// The last successful "test connection".
    pub last_tested_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// What a new integration is made from; the secret arrives already sealed for `id`.
#[derive(Debug, Clone)]
pub struct NewIntegration<'a> {
    /// The id the secret was sealed for (its AAD names it).
    pub id: IntegrationId,
    /// Provider.
    pub provider: &'a str,
    /// API base URL.
    pub base_url: Option<&'a str>,
    /// `bearer`, `private_token`, `basic` or `plain`.
    pub auth_kind: &'a str,
    /// The sealed envelope.
    pub secret_ct: &'a str,
    /// The sealing key's id.
    pub secret_key_id: Option<&'a str>,
    /// Last four characters of the token.
    pub token_hint: &'a str,
    /// Provider settings (not secret).
    pub settings: &'a Value,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Id,
    provider: String,
    base_url: Option<String>,
    auth_kind: String,
    secret_ct: Option<String>,
    secret_key_id: Option<String>,
    token_hint: Option<String>,
    settings: JsonText<Value>,
    sync_interval_min: i64,
    enabled: bool,
    last_tested_at: Option<Ts>,
    created_at: Ts,
}

impl From<Row> for Integration {
    fn from(r: Row) -> Integration {
        Integration {
            id: r.id.into(),
            provider: r.provider,
            base_url: r.base_url,
            auth_kind: r.auth_kind,
            secret_ct: r.secret_ct,
            secret_key_id: r.secret_key_id,
            token_hint: r.token_hint,
            settings: r.settings.0,
            sync_interval_min: r.sync_interval_min,
            enabled: r.enabled,
            last_tested_at: r.last_tested_at.map(Ts::get),
            created_at: r.created_at.get(),
        }
    }
}

const COLUMNS: &str = "id, provider, base_url, auth_kind, secret_ct, secret_key_id, token_hint, \
     settings, sync_interval_min, enabled, last_tested_at, created_at";

/// Inserts an enabled integration. The nonce lives inside the envelope, so `secret_nonce`
/// stays empty.
pub async fn insert(
    conn: &mut Conn<'_>,
    org: OrgId,
    new: &NewIntegration<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO integrations (org_id, id, provider, base_url, auth_kind, secret_ct, \
         secret_key_id, token_hint, settings, enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, TRUE, $10, $10)")
        .bind(Id::from(org)).bind(Id::from(new.id)).bind(new.provider).bind(new.base_url)
        .bind(new.auth_kind).bind(new.secret_ct).bind(new.secret_key_id).bind(new.token_hint)
        .bind(JsonText(new.settings)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// One integration of the org.
pub async fn get(
    conn: &mut Conn<'_>,
    org: OrgId,
    id: IntegrationId,
) -> Result<Option<Integration>> {
    let sql = format!("SELECT {COLUMNS} FROM integrations WHERE org_id = $1 AND id = $2");
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(Id::from(org)).bind(Id::from(id)).fetch_optional(&mut *c).await)?;
    Ok(row.map(Integration::from))
}

/// Every integration of the org, oldest first.
pub async fn list(conn: &mut Conn<'_>, org: OrgId) -> Result<Vec<Integration>> {
    let sql =
        format!("SELECT {COLUMNS} FROM integrations WHERE org_id = $1 ORDER BY created_at, id");
    let rows: Vec<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(Id::from(org)).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(Integration::from).collect())
}

/// Records a successful "test connection"; false when it does not exist in this org.
pub async fn set_tested(
    conn: &mut Conn<'_>,
    org: OrgId,
    id: IntegrationId,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_conn!(conn, c => sqlx::query(
        "UPDATE integrations SET last_tested_at = $3, updated_at = $3 WHERE org_id = $1 AND id = $2")
        .bind(Id::from(org)).bind(Id::from(id)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
