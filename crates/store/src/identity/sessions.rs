//! `sessions` (refresh families) and `refresh_tokens`.
//!
//! A session is live iff it is not revoked, not past its absolute expiry, and its epoch equals
//! the user's `session_epoch`; [`SessionView`] carries everything needed to decide that, plus
//! the live membership, in one read.

use chrono::{DateTime, Utc};
use domain::{OrgId, Role, UserId};
use uuid::Uuid;

use super::parse_col;
use crate::{Backend, Conn, Id, Result, Ts, on_conn};

/// A session to create.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// Id (the JWT `sid`).
    pub id: Uuid,
    /// The user.
    pub user_id: UserId,
    /// Scoped org (None: orgless).
    pub org_id: Option<OrgId>,
    /// `password`, `invite`, `sso`, …
    pub auth_method: &'a str,
    /// The user's epoch at creation.
    pub epoch: i64,
    /// Hard end of the family.
    pub absolute_expires_at: DateTime<Utc>,
    /// Client IP.
    pub ip: Option<&'a str>,
    /// Client user agent.
    pub user_agent: Option<&'a str>,
}

/// Creates a session.
pub async fn insert(conn: &mut Conn<'_>, s: &NewSession<'_>, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO sessions (id, user_id, org_id, auth_method, epoch, created_at, \
           absolute_expires_at, last_seen_at, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $8, $9)")
        .bind(Id(s.id)).bind(Id::from(s.user_id)).bind(s.org_id.map(Id::from))
        .bind(s.auth_method).bind(s.epoch).bind(Ts::new(now))
        .bind(Ts::new(s.absolute_expires_at)).bind(s.ip).bind(s.user_agent)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// A session with its user's state and live membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// Session id.
    pub id: Uuid,
    /// The user.
    pub user_id: UserId,
    /// The user's email.
    pub email: String,
    /// Scoped org.
    pub org_id: Option<OrgId>,
    /// The member's current role in `org_id` (None: no longer a member, or the org is gone).
    pub role: Option<Role>,
    /// Whether the family is live right now (revocation, expiry, epoch).
    pub live: bool,
    /// Whether the user may sign in.
    pub user_active: bool,
    /// Platform admin flag.
    pub platform_admin: bool,
    /// How the session was created.
    pub auth_method: String,
    /// Absolute expiry.
    pub absolute_expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ViewRow {
    id: Id,
    user_id: Id,
    email: String,
    org_id: Option<Id>,
    role: Option<String>,
    epoch: i64,
    session_epoch: i64,
    revoked_at: Option<Ts>,
    absolute_expires_at: Ts,
    is_active: bool,
    is_platform_admin: bool,
    auth_method: String,
}

/// The session `id` as of `now`; `lock` takes a row lock on PostgreSQL (refresh, switch-org).
pub async fn view(
    conn: &mut Conn<'_>,
    id: Uuid,
    now: DateTime<Utc>,
    lock: bool,
) -> Result<Option<SessionView>> {
    let lock = if lock && conn.backend() == Backend::Postgres {
        " FOR UPDATE OF s"
    } else {
        ""
    };
    let sql = format!(
        "SELECT s.id, s.user_id, u.email, s.org_id, m.role, s.epoch, u.session_epoch, \
           s.revoked_at, s.absolute_expires_at, u.is_active, u.is_platform_admin, s.auth_method \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         LEFT JOIN organizations o ON o.id = s.org_id AND o.deleted_at IS NULL \
         LEFT JOIN memberships m ON m.org_id = o.id AND m.user_id = s.user_id \
         WHERE s.id = $1{lock}"
    );
    let row: Option<ViewRow> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Id(id)).fetch_optional(&mut *c).await)?;
    row.map(|r| {
        Ok(SessionView {
            id: r.id.0,
            user_id: r.user_id.into(),
            email: r.email,
            org_id: r.org_id.map(Into::into),
            role: r
                .role
                .map(|x| parse_col("memberships.role", &x))
                .transpose()?,
            live: r.revoked_at.is_none()
                && now < r.absolute_expires_at.get()
                && r.epoch == r.session_epoch,
            user_active: r.is_active,
            platform_admin: r.is_platform_admin,
            auth_method: r.auth_method,
            absolute_expires_at: r.absolute_expires_at.get(),
        })
    })
    .transpose()
}

/// Revokes one session (idempotent: an already revoked session keeps its first reason).
pub async fn revoke(conn: &mut Conn<'_>, id: Uuid, reason: &str, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE sessions SET revoked_at = $2, revoke_reason = $3 \
         WHERE id = $1 AND revoked_at IS NULL")
        .bind(Id(id)).bind(Ts::new(now)).bind(reason).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Revokes the user's live sessions (all, or those scoped to `org`), except `keep`; returns
/// how many were revoked.
pub async fn revoke_for_user(
    conn: &mut Conn<'_>,
    user: UserId,
    org: Option<OrgId>,
    keep: Option<Uuid>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    Ok(on_conn!(conn, c => sqlx::query(
        "UPDATE sessions SET revoked_at = $4, revoke_reason = $5 \
         WHERE user_id = $1 AND revoked_at IS NULL AND absolute_expires_at > $4 \
           AND ($2 IS NULL OR org_id = $2) AND ($3 IS NULL OR id <> $3)")
        .bind(Id::from(user)).bind(org.map(Id::from)).bind(keep.map(Id))
        .bind(Ts::new(now)).bind(reason)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?)
}

/// Moves a session to another org (switch-org).
pub async fn set_org(conn: &mut Conn<'_>, id: Uuid, org: OrgId, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE sessions SET org_id = $2, last_seen_at = $3 WHERE id = $1")
        .bind(Id(id)).bind(Id::from(org)).bind(Ts::new(now)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// Id (inside the token string).
    pub id: Uuid,
    /// Its family.
    pub session_id: Uuid,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// When it was rotated (None: it is the head).
    pub used_at: Option<DateTime<Utc>>,
    /// What it was rotated into.
    pub successor_id: Option<Uuid>,
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    id: Id,
    session_id: Id,
    expires_at: Ts,
    used_at: Option<Ts>,
    successor_id: Option<Id>,
}

/// Stores a refresh token (the hash of its string).
pub async fn insert_refresh(
    conn: &mut Conn<'_>,
    t: &RefreshToken,
    parent: Option<Uuid>,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, issued_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(Id(t.id)).bind(Id(t.session_id)).bind(parent.map(Id)).bind(hash)
        .bind(Ts::new(now)).bind(Ts::new(t.expires_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// A refresh token by id, locked on PostgreSQL.
pub async fn refresh_for_update(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<RefreshToken>> {
    let lock = if conn.backend() == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!(
        "SELECT id, session_id, expires_at, used_at, successor_id FROM refresh_tokens \
         WHERE id = $1{lock}"
    );
    let row: Option<RefreshRow> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Id(id)).fetch_optional(&mut *c).await)?;
    Ok(row.map(|r| RefreshToken {
        id: r.id.0,
        session_id: r.session_id.0,
        expires_at: r.expires_at.get(),
        used_at: r.used_at.map(Ts::get),
        successor_id: r.successor_id.map(|s| s.0),
    }))
}

/// Marks `id` rotated into `successor`.
pub async fn mark_rotated(
    conn: &mut Conn<'_>,
    id: Uuid,
    successor: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE refresh_tokens SET used_at = $2, successor_id = $3 WHERE id = $1")
        .bind(Id(id)).bind(Ts::new(now)).bind(Id(successor))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The unrotated refresh token of a session, locked on PostgreSQL.
pub async fn head_of(conn: &mut Conn<'_>, session: Uuid) -> Result<Option<RefreshToken>> {
    let id: Option<Id> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT id FROM refresh_tokens WHERE session_id = $1 AND used_at IS NULL \
         ORDER BY id DESC LIMIT 1")
        .bind(Id(session)).fetch_optional(&mut *c).await)?;
    match id {
        Some(id) => refresh_for_update(conn, id.0).await,
        None => Ok(None),
    }
}
