//! `api_tokens`: org-scoped bearer tokens, stored as SHA-256.

use chrono::{DateTime, Utc};
use domain::{OrgId, Permission, Role, Tier, UserId};
use uuid::Uuid;

use super::parse_col;
use crate::{Conn, Id, JsonText, Result, Ts, on_conn};

/// A token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Id.
    pub id: Uuid,
    /// The creator.
    pub user_id: UserId,
    /// Name, unique among the creator's active tokens.
    pub name: String,
    /// First characters of the token, to recognize it.
    pub display_prefix: String,
    /// Granted permissions.
    pub scopes: Vec<Permission>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry (None: never, enterprise only).
    pub expires_at: Option<DateTime<Utc>>,
    /// Last use (written at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Id,
    user_id: Id,
    name: String,
    display_prefix: String,
    scopes: JsonText<Vec<String>>,
    created_at: Ts,
    expires_at: Option<Ts>,
    last_used_at: Option<Ts>,
    revoked_at: Option<Ts>,
}

fn scopes(raw: Vec<String>) -> Result<Vec<Permission>> {
    raw.iter()
        .map(|s| parse_col("api_tokens.scopes", s))
        .collect()
}

impl TryFrom<Row> for ApiToken {
    type Error = crate::StoreError;

    fn try_from(r: Row) -> Result<ApiToken> {
        Ok(ApiToken {
            id: r.id.0,
            user_id: r.user_id.into(),
            name: r.name,
            display_prefix: r.display_prefix,
            scopes: scopes(r.scopes.0)?,
            created_at: r.created_at.get(),
            expires_at: r.expires_at.map(Ts::get),
            last_used_at: r.last_used_at.map(Ts::get),
            revoked_at: r.revoked_at.map(Ts::get),
        })
    }
}

const COLUMNS: &str = "id, user_id, name, display_prefix, scopes, created_at, expires_at, \
     last_used_at, revoked_at";

/// Stores a new token. A duplicate active name fails with a unique violation.
pub async fn insert(conn: &mut Conn<'_>, org: OrgId, t: &ApiToken, hash: &str) -> Result<()> {
    let names: Vec<&str> = t.scopes.iter().map(|p| p.as_str()).collect();
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO api_tokens (id, org_id, user_id, name, display_prefix, token_hash, scopes, \
           created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(Id(t.id)).bind(Id::from(org)).bind(Id::from(t.user_id)).bind(&t.name)
        .bind(&t.display_prefix).bind(hash).bind(JsonText(&names))
        .bind(Ts::new(t.created_at)).bind(t.expires_at.map(Ts::new))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The org's tokens (of one creator, or all), newest first; revoked ones included.
pub async fn list(conn: &mut Conn<'_>, org: OrgId, user: Option<UserId>) -> Result<Vec<ApiToken>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE org_id = $1 AND ($2 IS NULL OR user_id = $2) \
         ORDER BY id DESC LIMIT 1000"
    );
    let rows: Vec<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Id::from(org)).bind(user.map(Id::from)).fetch_all(&mut *c).await)?;
    rows.into_iter().map(ApiToken::try_from).collect()
}

/// One token of the org.
pub async fn get(conn: &mut Conn<'_>, org: OrgId, id: Uuid) -> Result<Option<ApiToken>> {
    let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE org_id = $1 AND id = $2");
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Id::from(org)).bind(Id(id)).fetch_optional(&mut *c).await)?;
    row.map(ApiToken::try_from).transpose()
}

/// Revokes one token (idempotent).
pub async fn revoke(
    conn: &mut Conn<'_>,
    org: OrgId,
    id: Uuid,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE api_tokens SET revoked_at = $3, revoked_by = $4 \
         WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL")
        .bind(Id::from(org)).bind(Id(id)).bind(Ts::new(now)).bind(Id::from(by))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Revokes every token a member created in the org (removal, leaving).
pub async fn revoke_for_member(
    conn: &mut Conn<'_>,
    org: OrgId,
    user: UserId,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<u64> {
    Ok(on_conn!(conn, c => sqlx::query(
        "UPDATE api_tokens SET revoked_at = $3, revoked_by = $4 \
         WHERE org_id = $1 AND user_id = $2 AND revoked_at IS NULL")
        .bind(Id::from(org)).bind(Id::from(user)).bind(Ts::new(now)).bind(Id::from(by))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?)
}

/// What authenticating with a token needs, in one read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAuth {
    /// Token id.
    pub id: Uuid,
    /// Its org.
    pub org_id: OrgId,
    /// Its org's tier.
    pub tier: Tier,
    /// The creator.
    pub user_id: UserId,
    /// The creator's current role (None: no longer a member).
    pub role: Option<Role>,
    /// Whether the creator's account is active.
    pub user_active: bool,
    /// Granted scopes.
    pub scopes: Vec<Permission>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revocation.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last use.
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct AuthRow {
    id: Id,
    org_id: Id,
    tier: String,
    user_id: Id,
    role: Option<String>,
    is_active: bool,
    scopes: JsonText<Vec<String>>,
    expires_at: Option<Ts>,
    revoked_at: Option<Ts>,
    last_used_at: Option<Ts>,
}

/// The token with this hash, if any, with its creator's live membership.
pub async fn by_hash(conn: &mut Conn<'_>, hash: &str) -> Result<Option<TokenAuth>> {
    let row: Option<AuthRow> = on_conn!(conn, c => sqlx::query_as(
        "SELECT t.id, t.org_id, o.tier, t.user_id, m.role, u.is_active, t.scopes, t.expires_at, \
           t.revoked_at, t.last_used_at \
         FROM api_tokens t JOIN organizations o ON o.id = t.org_id AND o.deleted_at IS NULL \
         JOIN users u ON u.id = t.user_id \
         LEFT JOIN memberships m ON m.org_id = t.org_id AND m.user_id = t.user_id \
         WHERE t.token_hash = $1")
        .bind(hash).fetch_optional(&mut *c).await)?;
    row.map(|r| {
        Ok(TokenAuth {
            id: r.id.0,
            org_id: r.org_id.into(),
            tier: parse_col("organizations.tier", &r.tier)?,
            user_id: r.user_id.into(),
            role: r
                .role
                .map(|x| parse_col("memberships.role", &x))
                .transpose()?,
            user_active: r.is_active,
            scopes: scopes(r.scopes.0)?,
            expires_at: r.expires_at.map(Ts::get),
            revoked_at: r.revoked_at.map(Ts::get),
            last_used_at: r.last_used_at.map(Ts::get),
        })
    })
    .transpose()
}

/// Records a use.
pub async fn touch(
    conn: &mut Conn<'_>,
    id: Uuid,
    ip: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE api_tokens SET last_used_at = $2, last_used_ip = $3 WHERE id = $1")
        .bind(Id(id)).bind(Ts::new(now)).bind(ip).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
