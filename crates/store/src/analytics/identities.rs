//! `identities` and `identity_aliases` (analytics spec §8): who is behind commits, PRs and work
//! items. The rules live in `analytics::identity`; this module only looks aliases up and writes
//! what those rules decide.

use chrono::{DateTime, Utc};
use domain::{IdentityId, OrgId};

use crate::{Conn, Id, Result, Ts, on_conn};

/// A stored identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Id.
    pub id: IdentityId,
    /// Name shown in the UI.
    pub display_name: String,
    /// The first email seen.
    pub primary_email: Option<String>,
    /// Left out of person and team metrics.
    pub is_bot: bool,
    /// Set when merged into another identity.
    pub merged_into_id: Option<IdentityId>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Id,
    display_name: String,
    primary_email: Option<String>,
    is_bot: bool,
    merged_into_id: Option<Id>,
}

impl From<Row> for Identity {
    fn from(r: Row) -> Identity {
        Identity {
            id: r.id.into(),
            display_name: r.display_name,
            primary_email: r.primary_email,
            is_bot: r.is_bot,
            merged_into_id: r.merged_into_id.map(Into::into),
        }
    }
}

/// The identity holding alias `(kind, value)` (kinds: `email`, `github`, `gitlab`, `jira`,
/// `linear`, `git_name`; values already normalised).
pub async fn by_alias(
    conn: &mut Conn<'_>,
    org: OrgId,
    kind: &str,
    value: &str,
) -> Result<Option<IdentityId>> {
    let id: Option<Id> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT identity_id FROM identity_aliases WHERE org_id = $1 AND kind = $2 AND value = $3")
        .bind(Id::from(org)).bind(kind).bind(value).fetch_optional(&mut *c).await)?;
    Ok(id.map(Into::into))
}

/// Creates an identity.
pub async fn create(
    conn: &mut Conn<'_>,
    org: OrgId,
    display_name: &str,
    primary_email: Option<&str>,
    is_bot: bool,
    now: DateTime<Utc>,
) -> Result<IdentityId> {
    let id = IdentityId::new();
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO identities (org_id, id, display_name, primary_email, is_bot, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(Id::from(org)).bind(Id::from(id)).bind(display_name).bind(primary_email)
        .bind(is_bot).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(id)
}

/// Attaches an alias to an identity unless the alias is taken (then the existing owner keeps
/// it: aliases never move silently). `source`: `observed`, `manual` or `mailmap`.
pub async fn attach(
    conn: &mut Conn<'_>,
    org: OrgId,
    identity: IdentityId,
    kind: &str,
    value: &str,
    source: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO identity_aliases (org_id, kind, value, identity_id, source, first_seen_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, kind, value) DO NOTHING")
        .bind(Id::from(org)).bind(kind).bind(value).bind(Id::from(identity)).bind(source)
        .bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Every identity of the org, by name.
pub async fn list(conn: &mut Conn<'_>, org: OrgId) -> Result<Vec<Identity>> {
    let rows: Vec<Row> = on_conn!(conn, c => sqlx::query_as(
        "SELECT id, display_name, primary_email, is_bot, merged_into_id FROM identities \
         WHERE org_id = $1 ORDER BY display_name, id")
        .bind(Id::from(org)).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(Identity::from).collect())
}

/// One identity of the org.
pub async fn get(conn: &mut Conn<'_>, org: OrgId, id: IdentityId) -> Result<Option<Identity>> {
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(
        "SELECT id, display_name, primary_email, is_bot, merged_into_id FROM identities \
         WHERE org_id = $1 AND id = $2")
        .bind(Id::from(org)).bind(Id::from(id)).fetch_optional(&mut *c).await)?;
    Ok(row.map(Identity::from))
}
