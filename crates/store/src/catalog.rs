//! Reads of the seeded catalogue tables (`permissions`, `role_permissions`, `feature_flags`), so
//! startup can compare them with the compiled matrix and registry.

use crate::{Conn, Result, on_conn};

/// A row of `permissions`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PermissionRow {
    /// `resource:action`.
    pub name: String,
    /// Resource part.
    pub resource: String,
    /// Action part.
    pub action: String,
    /// Grouping.
    pub category: String,
    /// What it covers.
    pub description: String,
    /// Held by platform admins only.
    pub platform_only: bool,
    /// May be an API-token scope.
    pub api_grantable: bool,
}

/// A row of `feature_flags`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeatureFlagRow {
    /// Feature key.
    pub name: String,
    /// Minimum tier as stored (the compiled value wins on a difference).
    pub min_tier: String,
    /// Description.
    pub description: String,
    /// The global kill switch: false turns the feature off everywhere.
    pub is_enabled: bool,
}

/// Every permission row, by name.
pub async fn permissions(conn: &mut Conn<'_>) -> Result<Vec<PermissionRow>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT name, resource, action, category, description, platform_only, api_grantable \
         FROM permissions ORDER BY name")
        .fetch_all(&mut *c).await)?)
}

/// Every `(role, permission)` pair, sorted.
pub async fn role_permissions(conn: &mut Conn<'_>) -> Result<Vec<(String, String)>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT role, permission FROM role_permissions ORDER BY role, permission")
        .fetch_all(&mut *c).await)?)
}

/// Every feature flag, by name.
pub async fn feature_flags(conn: &mut Conn<'_>) -> Result<Vec<FeatureFlagRow>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT name, min_tier, description, is_enabled FROM feature_flags ORDER BY name")
        .fetch_all(&mut *c).await)?)
}
