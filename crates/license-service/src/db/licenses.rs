//! `licenses`: self-hosted license keys issued by license-svc (billing spec §4, §12).
//! UNIQUE(`subscription_id`, `exp`) makes issuance for a paid period idempotent.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::Tier;
use store::{Conn, Id, Result, Ts, on_conn, sqlx};
use uuid::Uuid;

/// A stored key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct License {
    /// The key's `jti`.
    pub jti: String,
    /// The buyer.
    pub customer_id: Uuid,
    /// The subscription paying for it (None for keys issued by hand).
    pub subscription_id: Option<String>,
    /// Signing kid.
    pub kid: String,
    /// The tier.
    pub tier: Tier,
    /// Explicit features.
    pub features: BTreeMap<String, bool>,
    /// Explicit limits.
    pub limits: BTreeMap<String, i64>,
    /// Deployments it is valid for.
    pub deployment_ids: Vec<String>,
    /// Unix seconds.
    pub iat: i64,
    /// Unix seconds.
    pub exp: i64,
    /// Days of grace after `exp`.
    pub grace_days: i64,
    /// The key itself (omitted from lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `active`, `superseded` or `revoked`.
    pub status: String,
    /// Who issued it (`stripe`, `admin:<actor>`, `portal`).
    pub issued_by: String,
}

type Raw = (
    String,
    Id,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    String,
    String,
);
const COLUMNS: &str = "jti, customer_id, subscription_id, kid, tier, features, limits, deployment_ids, \
    iat, exp, grace_days, token, status, issued_by";

fn row(r: Raw, with_token: bool) -> License {
    License {
        jti: r.0,
        customer_id: r.1.0,
        subscription_id: r.2,
        kid: r.3,
        tier: r.4.parse().unwrap_or(Tier::Team),
        features: serde_json::from_str(&r.5).unwrap_or_default(),
        limits: serde_json::from_str(&r.6).unwrap_or_default(),
        deployment_ids: serde_json::from_str(&r.7).unwrap_or_default(),
        iat: r.8,
        exp: r.9,
        grace_days: r.10,
        token: with_token.then_some(r.11),
        status: r.12,
        issued_by: r.13,
    }
}

/// Stores a key; `false` when the subscription already has a key for that `exp`.
pub async fn insert(
    conn: &mut Conn<'_>,
    l: &License,
    token: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(token.as_bytes()));
    let done = on_conn!(conn, c => sqlx::query(
        "INSERT INTO licenses (jti, customer_id, subscription_id, kid, tier, features, limits, deployment_ids, \
         iat, nbf, exp, grace_days, token, token_sha256, status, issued_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11, $12, $13, 'active', $14, $15) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&l.jti)
    .bind(Id(l.customer_id))
    .bind(l.subscription_id.as_deref())
    .bind(&l.kid)
    .bind(l.tier.as_str())
    .bind(serde_json::to_string(&l.features).unwrap_or_else(|_| "{}".into()))
    .bind(serde_json::to_string(&l.limits).unwrap_or_else(|_| "{}".into()))
    .bind(serde_json::to_string(&l.deployment_ids).unwrap_or_else(|_| "[]".into()))
    .bind(l.iat)
    .bind(l.exp)
    .bind(l.grace_days)
    .bind(token)
    .bind(sha)
    .bind(&l.issued_by)
    .bind(Ts::new(now))
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Marks the other active keys of a subscription superseded (they stay valid to their own end).
pub async fn supersede_others(
    conn: &mut Conn<'_>,
    subscription_id: &str,
    keep_jti: &str,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE licenses SET status = 'superseded' WHERE subscription_id = $1 AND jti <> $2 AND status = 'active'",
    )
    .bind(subscription_id)
    .bind(keep_jti)
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A key with its token.
pub async fn get(conn: &mut Conn<'_>, jti: &str) -> Result<Option<License>> {
    let sql = format!("SELECT {COLUMNS} FROM licenses WHERE jti = $1");
    let r: Option<Raw> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(jti)
        .fetch_optional(&mut *c)
        .await)?;
    Ok(r.map(|r| row(r, true)))
}

/// The key of a subscription's period, with its token.
pub async fn for_period(
    conn: &mut Conn<'_>,
    subscription_id: &str,
    exp: i64,
) -> Result<Option<License>> {
    let sql = format!("SELECT {COLUMNS} FROM licenses WHERE subscription_id = $1 AND exp = $2");
    let r: Option<Raw> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(subscription_id)
        .bind(exp)
        .fetch_optional(&mut *c)
        .await)?;
    Ok(r.map(|r| row(r, true)))
}

/// Keys, newest first, without tokens unless `with_tokens`.
pub async fn list(
    conn: &mut Conn<'_>,
    customer: Option<Uuid>,
    status: Option<&str>,
    with_tokens: bool,
) -> Result<Vec<License>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM licenses WHERE ($1 IS NULL OR customer_id = $1) AND ($2 IS NULL OR status = $2) \
         ORDER BY created_at DESC, jti"
    );
    let rows: Vec<Raw> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(customer.map(Id))
        .bind(status)
        .fetch_all(&mut *c)
        .await)?;
    Ok(rows.into_iter().map(|r| row(r, with_tokens)).collect())
}

/// Revokes a key; `false` when there is no such key.
pub async fn revoke(
    conn: &mut Conn<'_>,
    jti: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = on_conn!(conn, c => sqlx::query(
        "UPDATE licenses SET status = 'revoked', revoked_at = $2, revoked_reason = $3 WHERE jti = $1",
    )
    .bind(jti)
    .bind(Ts::new(now))
    .bind(reason)
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Marks one active key superseded.
pub async fn mark_superseded(conn: &mut Conn<'_>, jti: &str) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE licenses SET status = 'superseded' WHERE jti = $1 AND status = 'active'",
    )
    .bind(jti)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Whether any key of the subscription was revoked.
pub async fn subscription_revoked(conn: &mut Conn<'_>, subscription_id: &str) -> Result<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM licenses WHERE subscription_id = $1 AND status = 'revoked'",
    )
    .bind(subscription_id)
    .fetch_one(&mut *c)
    .await)?;
    Ok(n > 0)
}
