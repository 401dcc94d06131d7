//! `memberships`: who belongs to which org, with which role.

use chrono::{DateTime, Utc};
use domain::{MembershipId, OrgId, Role, UserId};

use super::orgs::{Org, Row as OrgRow};
use super::parse_col;
use crate::{Backend, Conn, Id, Result, Ts, on_conn};

/// Adds a member. A second membership of the same user fails with a unique violation.
pub async fn insert(
    conn: &mut Conn<'_>,
    org: OrgId,
    user: UserId,
    role: Role,
    invited_by: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO memberships (id, org_id, user_id, role, invited_by, joined_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)")
        .bind(Id::from(MembershipId::new())).bind(Id::from(org)).bind(Id::from(user))
        .bind(role.as_str()).bind(invited_by.map(Id::from)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The user's role in a live org, if a member.
pub async fn role_of(conn: &mut Conn<'_>, org: OrgId, user: UserId) -> Result<Option<Role>> {
    let role: Option<String> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT m.role FROM memberships m JOIN organizations o ON o.id = m.org_id \
         WHERE m.org_id = $1 AND m.user_id = $2 AND o.deleted_at IS NULL")
        .bind(Id::from(org)).bind(Id::from(user)).fetch_optional(&mut *c).await)?;
    role.map(|r| parse_col("memberships.role", &r)).transpose()
}

/// Serializes writers that check a count before inserting (members, owners) for one org:
/// PostgreSQL locks the org row; SQLite writers are already serialized by `BEGIN IMMEDIATE`.
pub async fn lock_org(conn: &mut Conn<'_>, org: OrgId) -> Result<()> {
    if conn.backend() == Backend::Postgres {
        on_conn!(conn, c => sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
            .bind(Id::from(org)).fetch_optional(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct OrgRoleRow {
    #[sqlx(flatten)]
    org: OrgRow,
    role: String,
}

/// The user's live orgs with their role, earliest membership first.
pub async fn orgs_of(conn: &mut Conn<'_>, user: UserId) -> Result<Vec<(Org, Role)>> {
    let rows: Vec<OrgRoleRow> = on_conn!(conn, c => sqlx::query_as(
        "SELECT o.id, o.name, o.slug, o.tier, o.created_at, m.role \
         FROM memberships m JOIN organizations o ON o.id = m.org_id \
         WHERE m.user_id = $1 AND o.deleted_at IS NULL ORDER BY m.joined_at, m.id")
        .bind(Id::from(user)).fetch_all(&mut *c).await)?;
    rows.into_iter()
        .map(|r| {
            Ok((
                Org::try_from(r.org)?,
                parse_col("memberships.role", &r.role)?,
            ))
        })
        .collect()
}

/// One member as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Membership id (the list cursor).
    pub id: MembershipId,
    /// The user.
    pub user_id: UserId,
    /// Their email.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Role in this org.
    pub role: Role,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
    /// Last login anywhere.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Whether the account is active.
    pub is_active: bool,
    /// Whether the email is verified.
    pub verified: bool,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: Id,
    user_id: Id,
    email: String,
    name: String,
    role: String,
    joined_at: Ts,
    last_login_at: Option<Ts>,
    is_active: bool,
    email_verified_at: Option<Ts>,
}

const MEMBER_SELECT: &str = "SELECT m.id, m.user_id, u.email, u.name, m.role, m.joined_at, \
     u.last_login_at, u.is_active, u.email_verified_at \
     FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1";

fn member(r: MemberRow) -> Result<Member> {
    Ok(Member {
        id: MembershipId::from_uuid(r.id.0),
        user_id: r.user_id.into(),
        email: r.email,
        name: r.name,
        role: parse_col("memberships.role", &r.role)?,
        joined_at: r.joined_at.get(),
        last_login_at: r.last_login_at.map(Ts::get),
        is_active: r.is_active,
        verified: r.email_verified_at.is_some(),
    })
}

/// A page of members in join order, after membership `after`, optionally of one role.
pub async fn list(
    conn: &mut Conn<'_>,
    org: OrgId,
    role: Option<Role>,
    after: Option<MembershipId>,
    limit: u32,
) -> Result<Vec<Member>> {
    let sql = format!(
        "{MEMBER_SELECT} AND ($2 IS NULL OR m.role = $2) AND ($3 IS NULL OR m.id > $3) \
         ORDER BY m.id LIMIT $4"
    );
    let after = after.map(|a| Id(a.as_uuid()));
    let rows: Vec<MemberRow> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Id::from(org)).bind(role.map(Role::as_str)).bind(after).bind(i64::from(limit))
        .fetch_all(&mut *c).await)?;
    rows.into_iter().map(member).collect()
}

/// One member of the org.
pub async fn get(conn: &mut Conn<'_>, org: OrgId, user: UserId) -> Result<Option<Member>> {
    let sql = format!("{MEMBER_SELECT} AND m.user_id = $2");
    let row: Option<MemberRow> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Id::from(org)).bind(Id::from(user)).fetch_optional(&mut *c).await)?;
    row.map(member).transpose()
}

/// Changes a member's role.
pub async fn set_role(
    conn: &mut Conn<'_>,
    org: OrgId,
    user: UserId,
    role: Role,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE memberships SET role = $3, updated_at = $4 WHERE org_id = $1 AND user_id = $2")
        .bind(Id::from(org)).bind(Id::from(user)).bind(role.as_str()).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Removes a member.
pub async fn delete(conn: &mut Conn<'_>, org: OrgId, user: UserId) -> Result<()> {
    on_conn!(conn, c => sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(Id::from(org)).bind(Id::from(user)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Members of the org, optionally of one role.
pub async fn count(conn: &mut Conn<'_>, org: OrgId, role: Option<Role>) -> Result<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND ($2 IS NULL OR role = $2)")
        .bind(Id::from(org)).bind(role.map(Role::as_str)).fetch_one(&mut *c).await)?)
}
