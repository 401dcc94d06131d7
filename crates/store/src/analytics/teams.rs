//! `teams` and `team_members` (analytics spec §2.1, §8): a team's code and PR metrics come
//! from its members' activity, its work-item metrics from its `project_keys` globs (else its
//! members' assignments).

use chrono::{DateTime, Utc};
use domain::{IdentityId, OrgId, TeamId};

use crate::{Conn, Id, JsonText, Result, Ts, on_conn};

/// A stored team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// Id.
    pub id: TeamId,
    /// URL-safe name, unique in the org.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The parent team.
    pub parent_team_id: Option<TeamId>,
    /// Globs over project keys (Jira key, Linear team key, GitHub `owner/repo`).
    pub project_keys: Vec<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Id,
    slug: String,
    name: String,
    parent_team_id: Option<Id>,
    project_keys: JsonText<Vec<String>>,
    created_at: Ts,
}

impl From<Row> for Team {
    fn from(r: Row) -> Team {
        Team {
            id: r.id.into(),
            slug: r.slug,
            name: r.name,
            parent_team_id: r.parent_team_id.map(Into::into),
            project_keys: r.project_keys.0,
            created_at: r.created_at.get(),
        }
    }
}

const COLUMNS: &str = "id, slug, name, parent_team_id, project_keys, created_at";

/// Creates a team; a taken slug fails with a unique violation.
pub async fn create(
    conn: &mut Conn<'_>,
    org: OrgId,
    slug: &str,
    name: &str,
    project_keys: &[String],
    now: DateTime<Utc>,
) -> Result<TeamId> {
    let id = TeamId::new();
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO teams (org_id, id, slug, name, project_keys, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(Id::from(org)).bind(Id::from(id)).bind(slug).bind(name)
        .bind(JsonText(project_keys)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(id)
}

/// One team of the org.
pub async fn get(conn: &mut Conn<'_>, org: OrgId, id: TeamId) -> Result<Option<Team>> {
    let sql = format!("SELECT {COLUMNS} FROM teams WHERE org_id = $1 AND id = $2");
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Id::from(org)).bind(Id::from(id)).fetch_optional(&mut *c).await)?;
    Ok(row.map(Team::from))
}

/// Every team of the org, by slug.
pub async fn list(conn: &mut Conn<'_>, org: OrgId) -> Result<Vec<Team>> {
    let sql = format!("SELECT {COLUMNS} FROM teams WHERE org_id = $1 ORDER BY slug, id");
    let rows: Vec<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Id::from(org)).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(Team::from).collect())
}

/// Replaces the team's project key globs; false when it does not exist.
pub async fn set_project_keys(
    conn: &mut Conn<'_>,
    org: OrgId,
    id: TeamId,
    globs: &[String],
) -> Result<bool> {
    let n = on_conn!(conn, c => sqlx::query(
        "UPDATE teams SET project_keys = $3 WHERE org_id = $1 AND id = $2")
        .bind(Id::from(org)).bind(Id::from(id)).bind(JsonText(globs))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Adds a member (an identity of the same org); adding twice is a no-op.
pub async fn add_member(
    conn: &mut Conn<'_>,
    org: OrgId,
    team: TeamId,
    identity: IdentityId,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO team_members (org_id, team_id, identity_id, added_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, team_id, identity_id) DO NOTHING")
        .bind(Id::from(org)).bind(Id::from(team)).bind(Id::from(identity)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Removes a member; false when they were not one.
pub async fn remove_member(
    conn: &mut Conn<'_>,
    org: OrgId,
    team: TeamId,
    identity: IdentityId,
) -> Result<bool> {
    let n = on_conn!(conn, c => sqlx::query(
        "DELETE FROM team_members WHERE org_id = $1 AND team_id = $2 AND identity_id = $3")
        .bind(Id::from(org)).bind(Id::from(team)).bind(Id::from(identity))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The team's members (bots included; metrics leave them out themselves).
pub async fn members(conn: &mut Conn<'_>, org: OrgId, team: TeamId) -> Result<Vec<IdentityId>> {
    let rows: Vec<Id> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT identity_id FROM team_members WHERE org_id = $1 AND team_id = $2 \
         ORDER BY identity_id")
        .bind(Id::from(org)).bind(Id::from(team)).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Every membership of the org as `(team, identity)`: the work-item team attribution reads
/// it once per recompute.
pub async fn memberships(conn: &mut Conn<'_>, org: OrgId) -> Result<Vec<(TeamId, IdentityId)>> {
    let rows: Vec<(Id, Id)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT team_id, identity_id FROM team_members WHERE org_id = $1 \
         ORDER BY team_id, identity_id")
        .bind(Id::from(org)).fetch_all(&mut *c).await)?;
    Ok(rows
        .into_iter()
        .map(|(t, i)| (t.into(), i.into()))
        .collect())
}
