//! Entitlement inputs (entitlements spec §18): kill switches (`feature_flags.is_enabled`), org
//! overrides, SaaS org entitlements, the installed instance license, and the version rows
//! whose bumps tell every replica to drop its snapshots (§5.6).
//!
//! Every change is made together with [`bump`] in one transaction; on PostgreSQL the bump also
//! sends `NOTIFY dh_entitlements, '<scope>:<version>'`, delivered at commit.

use chrono::{DateTime, Utc};
use domain::{OrgId, Tier, UserId};

use crate::identity::parse_col;
use crate::{Conn, Id, Result, Ts, on_conn};

/// The `NOTIFY` channel of version bumps.
pub const CHANNEL: &str = "dh_entitlements";
/// The version scope of global inputs (kill switches, the instance license).
pub const GLOBAL: &str = "global";

/// Increments the version of `scope` (`global` or an org id) and, on PostgreSQL, notifies every
/// listener at commit. Returns the new version.
pub async fn bump(conn: &mut Conn<'_>, scope: &str) -> Result<i64> {
    let version: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO entitlement_versions (scope, version) VALUES ($1, 1) \
         ON CONFLICT (scope) DO UPDATE SET version = entitlement_versions.version + 1 \
         RETURNING version")
        .bind(scope).fetch_one(&mut *c).await)?;
    if let Conn::Postgres(c) = conn {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(format!("{scope}:{version}"))
            .execute(&mut **c)
            .await?;
    }
    Ok(version)
}

/// Every version row, as `(scope, version)`.
pub async fn versions(conn: &mut Conn<'_>) -> Result<Vec<(String, i64)>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT scope, version FROM entitlement_versions")
        .fetch_all(&mut *c).await)?)
}

/// The version of one scope (0 before its first bump).
pub async fn version(conn: &mut Conn<'_>, scope: &str) -> Result<i64> {
    let v: Option<i64> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT version FROM entitlement_versions WHERE scope = $1")
        .bind(scope).fetch_optional(&mut *c).await)?;
    Ok(v.unwrap_or(0))
}

/// Sets a kill switch; returns the previous value, or `None` for an unknown feature.
pub async fn set_kill_switch(
    conn: &mut Conn<'_>,
    feature: &str,
    enabled: bool,
    by: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<Option<bool>> {
    let before: Option<bool> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT is_enabled FROM feature_flags WHERE name = $1")
        .bind(feature).fetch_optional(&mut *c).await)?;
    if before.is_some() {
        on_conn!(conn, c => sqlx::query(
            "UPDATE feature_flags SET is_enabled = $2, updated_by = $3, updated_at = $4 \
             WHERE name = $1")
            .bind(feature).bind(enabled).bind(by.map(Id::from)).bind(Ts::new(now))
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(before)
}

/// A stored org override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideRow {
    /// Feature key.
    pub feature: String,
    /// Grant or deny.
    pub enabled: bool,
    /// When it stops applying.
    pub expires_at: Option<DateTime<Utc>>,
    /// Why (required).
    pub reason: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct OverrideSql {
    feature_name: String,
    enabled: bool,
    expires_at: Option<Ts>,
    reason: String,
    updated_at: Ts,
}

impl From<OverrideSql> for OverrideRow {
    fn from(r: OverrideSql) -> Self {
        OverrideRow {
            feature: r.feature_name,
            enabled: r.enabled,
            expires_at: r.expires_at.map(Ts::get),
            reason: r.reason,
            updated_at: r.updated_at.get(),
        }
    }
}

/// The org's overrides, by feature.
pub async fn overrides(conn: &mut Conn<'_>, org: OrgId) -> Result<Vec<OverrideRow>> {
    let rows: Vec<OverrideSql> = on_conn!(conn, c => sqlx::query_as(
        "SELECT feature_name, enabled, expires_at, reason, updated_at \
         FROM org_feature_overrides WHERE org_id = $1 ORDER BY feature_name")
        .bind(Id::from(org)).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(OverrideRow::from).collect())
}

/// Creates or replaces the org's override of `feature`.
pub async fn put_override(
    conn: &mut Conn<'_>,
    org: OrgId,
    row: &OverrideRow,
    by: Option<UserId>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO org_feature_overrides (org_id, feature_name, enabled, expires_at, reason, \
           created_by, updated_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $7) \
         ON CONFLICT (org_id, feature_name) DO UPDATE SET enabled = excluded.enabled, \
           expires_at = excluded.expires_at, reason = excluded.reason, \
           updated_by = excluded.updated_by, updated_at = excluded.updated_at")
        .bind(Id::from(org)).bind(&row.feature).bind(row.enabled)
        .bind(row.expires_at.map(Ts::new)).bind(&row.reason).bind(by.map(Id::from))
        .bind(Ts::new(row.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Deletes the org's override of `feature`; whether one existed.
pub async fn delete_override(conn: &mut Conn<'_>, org: OrgId, feature: &str) -> Result<bool> {
    let done = on_conn!(conn, c => sqlx::query(
        "DELETE FROM org_feature_overrides WHERE org_id = $1 AND feature_name = $2")
        .bind(Id::from(org)).bind(feature).execute(&mut *c).await
        .map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// The last accepted SaaS entitlement of an org (the token is verified again on every read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgEntitlement {
    /// The signed token.
    pub token: String,
    /// Its id.
    pub jti: String,
    /// Its tier (for listings; decisions come from the verified token).
    pub tier: Tier,
    /// Issued at; an older push never replaces a newer one.
    pub iat: DateTime<Utc>,
    /// Expiry.
    pub exp: DateTime<Utc>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

/// The org's entitlement, if one was accepted.
pub async fn org_entitlement(conn: &mut Conn<'_>, org: OrgId) -> Result<Option<OrgEntitlement>> {
    let row: Option<(String, String, String, Ts, Ts, Ts)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT token, jti, tier, iat, exp, received_at FROM org_entitlements WHERE org_id = $1")
        .bind(Id::from(org)).fetch_optional(&mut *c).await)?;
    row.map(|(token, jti, tier, iat, exp, received_at)| {
        Ok(OrgEntitlement {
            token,
            jti,
            tier: parse_col("org_entitlements.tier", &tier)?,
            iat: iat.get(),
            exp: exp.get(),
            received_at: received_at.get(),
        })
    })
    .transpose()
}

/// The org's tier mirror and its stored entitlement, read under the lock that orders the pushes
/// for one org: PostgreSQL locks the org row `FOR UPDATE` (it exists even before the first
/// entitlement, so two first pushes are ordered too); SQLite callers hold `BEGIN IMMEDIATE`.
/// `None` when there is no live org.
pub async fn lock_org_entitlement(
    conn: &mut Conn<'_>,
    org: OrgId,
) -> Result<Option<(Tier, Option<OrgEntitlement>)>> {
    let sql = match conn.backend() {
        crate::Backend::Postgres => {
            "SELECT tier FROM organizations WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
        }
        crate::Backend::Sqlite => {
            "SELECT tier FROM organizations WHERE id = $1 AND deleted_at IS NULL"
        }
    };
    let tier: Option<String> = on_conn!(conn, c => sqlx::query_scalar(sql)
        .bind(Id::from(org)).fetch_optional(&mut *c).await)?;
    let Some(tier) = tier else {
        return Ok(None);
    };
    let tier = parse_col("organizations.tier", &tier)?;
    Ok(Some((tier, org_entitlement(conn, org).await?)))
}

/// Stores the org's entitlement unless one with the same or a later `iat` is already stored
/// (a guard under the caller's lock, which has already refused stale pushes). Returns whether
/// it was stored. The tier mirror is the caller's: it follows the effective tier, which an
/// expired token does not give.
pub async fn put_org_entitlement(
    conn: &mut Conn<'_>,
    org: OrgId,
    e: &OrgEntitlement,
) -> Result<bool> {
    let done = on_conn!(conn, c => sqlx::query(
        "INSERT INTO org_entitlements (org_id, token, jti, tier, iat, exp, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (org_id) DO UPDATE SET token = excluded.token, jti = excluded.jti, \
           tier = excluded.tier, iat = excluded.iat, exp = excluded.exp, \
           received_at = excluded.received_at \
         WHERE org_entitlements.iat < excluded.iat")
        .bind(Id::from(org)).bind(&e.token).bind(&e.jti).bind(e.tier.as_str())
        .bind(Ts::new(e.iat)).bind(Ts::new(e.exp)).bind(Ts::new(e.received_at))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// Writes the org's tier mirror (`organizations.tier`), shown in listings; gating never reads it.
pub async fn mirror_tier(
    conn: &mut Conn<'_>,
    org: OrgId,
    tier: Tier,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE organizations SET tier = $2, updated_at = $3 WHERE id = $1 AND tier <> $2")
        .bind(Id::from(org)).bind(tier.as_str()).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The license installed by an admin (self-hosted, when `DEV_HEALTH_LICENSE` is not set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledLicense {
    /// The signed token.
    pub token: String,
    /// Its id.
    pub jti: String,
    /// When it was installed.
    pub loaded_at: DateTime<Utc>,
}

/// The installed license, if any.
pub async fn installed_license(conn: &mut Conn<'_>) -> Result<Option<InstalledLicense>> {
    let row: Option<(String, String, Ts)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT token, jti, loaded_at FROM instance_license WHERE id = 1")
        .fetch_optional(&mut *c).await)?;
    Ok(row.map(|(token, jti, at)| InstalledLicense {
        token,
        jti,
        loaded_at: at.get(),
    }))
}

/// Installs (or replaces) the instance license.
pub async fn install_license(
    conn: &mut Conn<'_>,
    license: &InstalledLicense,
    by: Option<UserId>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO instance_license (id, token, jti, source, installed_by, loaded_at) \
         VALUES (1, $1, $2, 'admin', $3, $4) \
         ON CONFLICT (id) DO UPDATE SET token = excluded.token, jti = excluded.jti, \
           installed_by = excluded.installed_by, loaded_at = excluded.loaded_at")
        .bind(&license.token).bind(&license.jti).bind(by.map(Id::from))
        .bind(Ts::new(license.loaded_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Usage counts of the limits (spec §4): members of the org (`users`, SaaS), distinct users with
/// an active membership on the deployment (`users`, self-hosted), live orgs on the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Members of this org.
    pub org_members: i64,
    /// Distinct members across the deployment.
    pub deployment_users: i64,
    /// Live orgs on the deployment.
    pub deployment_orgs: i64,
}

/// Counts the usage of an org and its deployment.
pub async fn usage(conn: &mut Conn<'_>, org: OrgId) -> Result<Usage> {
    let (org_members, deployment_users, deployment_orgs): (i64, i64, i64) = on_conn!(conn, c =>
        sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id \
                 WHERE m.org_id = $1 AND u.is_active), \
                (SELECT COUNT(DISTINCT m.user_id) FROM memberships m \
                 JOIN users u ON u.id = m.user_id \
                 JOIN organizations o ON o.id = m.org_id \
                 WHERE u.is_active AND o.deleted_at IS NULL), \
                (SELECT COUNT(*) FROM organizations WHERE deleted_at IS NULL)")
        .bind(Id::from(org)).fetch_one(&mut *c).await)?;
    Ok(Usage {
        org_members,
        deployment_users,
        deployment_orgs,
    })
}
