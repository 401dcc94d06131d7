//! `entitlements`: the current computed entitlement of each SaaS org, with the `iat` and `jti`
//! of its last signature and any comp grant (billing spec §4, §8).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::Tier;
use serde_json::Value;
use store::{Conn, Id, Result, Ts, on_conn, sqlx};
use uuid::Uuid;

/// A stored entitlement.
#[derive(Debug, Clone, PartialEq)]
pub struct EntRow {
    /// The ops org.
    pub org_id: Uuid,
    /// The tier.
    pub tier: Tier,
    /// Explicit feature values.
    pub features: BTreeMap<String, bool>,
    /// Explicit limits.
    pub limits: BTreeMap<String, i64>,
    /// Token `exp` (Unix seconds; 0 for community, whose `exp` is `iat + 3650 d`).
    pub exp: i64,
    /// Token `grace_days`.
    pub grace_days: i64,
    /// The billing summary ops shows.
    pub billing: Value,
    /// Signatures so far.
    pub version: i64,
    /// `iat` of the last signature.
    pub last_iat: i64,
    /// `jti` of the last signature.
    pub last_jti: String,
    /// A comp grant: tier, until, reason.
    pub comp: Option<(Tier, DateTime<Utc>, String)>,
}

type Raw = (
    Id,
    String,
    String,
    String,
    i64,
    i64,
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<Ts>,
    Option<String>,
);

const COLUMNS: &str = "org_id, tier, features, limits, exp, grace_days, billing, version, last_iat, \
    last_jti, comp_tier, comp_until, comp_reason";

fn row(r: Raw) -> EntRow {
    EntRow {
        org_id: r.0.0,
        tier: r.1.parse().unwrap_or(Tier::Community),
        features: serde_json::from_str(&r.2).unwrap_or_default(),
        limits: serde_json::from_str(&r.3).unwrap_or_default(),
        exp: r.4,
        grace_days: r.5,
        billing: serde_json::from_str(&r.6).unwrap_or(Value::Null),
        version: r.7,
        last_iat: r.8,
        last_jti: r.9,
        comp: match (r.10.and_then(|t| t.parse().ok()), r.11) {
            (Some(t), Some(u)) => Some((t, u.get(), r.12.unwrap_or_default())),
            _ => None,
        },
    }
}

/// Makes sure the org has a row to lock: a community placeholder (version 0, nothing signed)
/// when it has none. Concurrent first computations for one org then serialize on that row
/// (PostgreSQL waits on the unique key, then `FOR UPDATE`) instead of both reading "no row".
pub async fn ensure(conn: &mut Conn<'_>, org: Uuid, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO entitlements (org_id, tier, features, limits, exp, grace_days, billing, version, \
         last_iat, last_jti, updated_at) VALUES ($1, 'community', '{}', '{}', 0, 0, 'null', 0, 0, '', $2) \
         ON CONFLICT (org_id) DO NOTHING",
    )
    .bind(Id(org))
    .bind(Ts::new(now))
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The org's row, locked for the transaction on PostgreSQL.
pub async fn lock(conn: &mut Conn<'_>, org: Uuid) -> Result<Option<EntRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM entitlements WHERE org_id = $1{}",
        super::for_update(conn)
    );
    let r: Option<Raw> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(Id(org))
        .fetch_optional(&mut *c)
        .await)?;
    Ok(r.map(row))
}

/// The org's row.
pub async fn get(conn: &mut Conn<'_>, org: Uuid) -> Result<Option<EntRow>> {
    let sql = format!("SELECT {COLUMNS} FROM entitlements WHERE org_id = $1");
    let r: Option<Raw> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(Id(org))
        .fetch_optional(&mut *c)
        .await)?;
    Ok(r.map(row))
}

/// Inserts or replaces the org's row.
pub async fn put(conn: &mut Conn<'_>, e: &EntRow, now: DateTime<Utc>) -> Result<()> {
    let (comp_tier, comp_until, comp_reason) = match &e.comp {
        Some((t, u, r)) => (Some(t.as_str()), Some(Ts::new(*u)), Some(r.as_str())),
        None => (None, None, None),
    };
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO entitlements (org_id, tier, features, limits, exp, grace_days, billing, version, \
         last_iat, last_jti, comp_tier, comp_until, comp_reason, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (org_id) DO UPDATE SET tier = excluded.tier, features = excluded.features, \
         limits = excluded.limits, exp = excluded.exp, grace_days = excluded.grace_days, \
         billing = excluded.billing, version = excluded.version, last_iat = excluded.last_iat, \
         last_jti = excluded.last_jti, comp_tier = excluded.comp_tier, comp_until = excluded.comp_until, \
         comp_reason = excluded.comp_reason, updated_at = excluded.updated_at",
    )
    .bind(Id(e.org_id))
    .bind(e.tier.as_str())
    .bind(serde_json::to_string(&e.features).unwrap_or_else(|_| "{}".into()))
    .bind(serde_json::to_string(&e.limits).unwrap_or_else(|_| "{}".into()))
    .bind(e.exp)
    .bind(e.grace_days)
    .bind(e.billing.to_string())
    .bind(e.version)
    .bind(e.last_iat)
    .bind(&e.last_jti)
    .bind(comp_tier)
    .bind(comp_until)
    .bind(comp_reason)
    .bind(Ts::new(now))
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Every org with an entitlement row (the scheduler's candidates and `push --all`).
pub async fn orgs(conn: &mut Conn<'_>) -> Result<Vec<Uuid>> {
    let rows: Vec<(Id,)> = on_conn!(conn, c => sqlx::query_as("SELECT org_id FROM entitlements ORDER BY org_id")
        .fetch_all(&mut *c)
        .await)?;
    Ok(rows.into_iter().map(|r| r.0.0).collect())
}

/// Sets or clears the org's comp grant (the row must exist: see [`ensure`]).
pub async fn set_comp(
    conn: &mut Conn<'_>,
    org: Uuid,
    comp: Option<(Tier, DateTime<Utc>, &str)>,
    now: DateTime<Utc>,
) -> Result<()> {
    let (tier, until, reason) = match comp {
        Some((t, u, r)) => (Some(t.as_str()), Some(Ts::new(u)), Some(r)),
        None => (None, None, None),
    };
    on_conn!(conn, c => sqlx::query(
        "UPDATE entitlements SET comp_tier = $2, comp_until = $3, comp_reason = $4, updated_at = $5 \
         WHERE org_id = $1",
    )
    .bind(Id(org))
    .bind(tier)
    .bind(until)
    .bind(reason)
    .bind(Ts::new(now))
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
