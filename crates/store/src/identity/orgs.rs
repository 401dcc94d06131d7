//! `organizations` (and the `org_security` row created with each).

use chrono::{DateTime, Utc};
use domain::{OrgId, Tier};

use super::parse_col;
use crate::{Conn, Id, Result, Ts, on_conn};

/// A stored organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// Id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// URL-safe unique name.
    pub slug: String,
    /// Tier written by the entitlement path.
    pub tier: Tier,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    id: Id,
    name: String,
    slug: String,
    tier: String,
    created_at: Ts,
}

impl TryFrom<Row> for Org {
    type Error = crate::StoreError;

    fn try_from(r: Row) -> Result<Org> {
        Ok(Org {
            id: r.id.into(),
            name: r.name,
            slug: r.slug,
            tier: parse_col("organizations.tier", &r.tier)?,
            created_at: r.created_at.get(),
        })
    }
}

/// Creates an org (community tier) and its `org_security` row. A taken slug fails with a
/// unique violation.
pub async fn insert(
    conn: &mut Conn<'_>,
    id: OrgId,
    name: &str,
    slug: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO organizations (id, name, slug, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4)")
        .bind(Id::from(id)).bind(name).bind(slug).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO org_security (org_id, updated_at) VALUES ($1, $2)")
        .bind(Id::from(id)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// A live (not deleted) org.
pub async fn by_id(conn: &mut Conn<'_>, id: OrgId) -> Result<Option<Org>> {
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(
        "SELECT id, name, slug, tier, created_at FROM organizations \
         WHERE id = $1 AND deleted_at IS NULL")
        .bind(Id::from(id)).fetch_optional(&mut *c).await)?;
    row.map(Org::try_from).transpose()
}

/// A live org by slug.
pub async fn by_slug(conn: &mut Conn<'_>, slug: &str) -> Result<Option<Org>> {
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(
        "SELECT id, name, slug, tier, created_at FROM organizations \
         WHERE slug = $1 AND deleted_at IS NULL")
        .bind(slug).fetch_optional(&mut *c).await)?;
    row.map(Org::try_from).transpose()
}

/// Whether a slug is in use (deleted orgs keep theirs).
pub async fn slug_taken(conn: &mut Conn<'_>, slug: &str) -> Result<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM organizations WHERE slug = $1")
        .bind(slug).fetch_one(&mut *c).await)?;
    Ok(n > 0)
}

/// Sets the tier (platform and entitlement paths only).
pub async fn set_tier(
    conn: &mut Conn<'_>,
    id: OrgId,
    tier: Tier,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE organizations SET tier = $2, updated_at = $3 WHERE id = $1")
        .bind(Id::from(id)).bind(tier.as_str()).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
