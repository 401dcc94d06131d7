//! `users`: global accounts.

use chrono::{DateTime, Utc};
use domain::{OrgId, UserId};

use crate::{Conn, Id, Result, Ts, on_conn};

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Email as typed.
    pub email: String,
    /// Normalized email (unique).
    pub email_norm: String,
    /// When the address was verified.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// Display name.
    pub name: String,
    /// PHC argon2id hash; None for SSO-only accounts.
    pub password_hash: Option<String>,
    /// Whether the account may sign in.
    pub is_active: bool,
    /// Platform admin flag (written only by the CLI).
    pub is_platform_admin: bool,
    /// Sessions with another epoch are dead (logout-all, password reset).
    pub session_epoch: i64,
    /// Org chosen at the last login or switch.
    pub last_org_id: Option<OrgId>,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Id,
    email: String,
    email_norm: String,
    email_verified_at: Option<Ts>,
    name: String,
    password_hash: Option<String>,
    is_active: bool,
    is_platform_admin: bool,
    session_epoch: i64,
    last_org_id: Option<Id>,
    last_login_at: Option<Ts>,
    created_at: Ts,
}

impl From<Row> for User {
    fn from(r: Row) -> User {
        User {
            id: r.id.into(),
            email: r.email,
            email_norm: r.email_norm,
            email_verified_at: r.email_verified_at.map(Ts::get),
            name: r.name,
            password_hash: r.password_hash,
            is_active: r.is_active,
            is_platform_admin: r.is_platform_admin,
            session_epoch: r.session_epoch,
            last_org_id: r.last_org_id.map(Into::into),
            last_login_at: r.last_login_at.map(Ts::get),
            created_at: r.created_at.get(),
        }
    }
}

const COLUMNS: &str = "id, email, email_norm, email_verified_at, name, password_hash, is_active, \
     is_platform_admin, session_epoch, last_org_id, last_login_at, created_at";

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Id.
    pub id: UserId,
    /// Email as typed.
    pub email: &'a str,
    /// Normalized email.
    pub email_norm: &'a str,
    /// Display name.
    pub name: &'a str,
    /// PHC hash.
    pub password_hash: Option<&'a str>,
    /// Set when the mailbox is already proven (invite, CLI, setup).
    pub verified_at: Option<DateTime<Utc>>,
    /// Platform admin (setup and CLI only).
    pub platform_admin: bool,
}

/// Inserts a local account. A taken email fails with a unique violation.
pub async fn insert(conn: &mut Conn<'_>, u: &NewUser<'_>, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO users (id, email, email_norm, email_verified_at, name, password_hash, \
           password_changed_at, auth_provider, is_platform_admin, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'local', $8, $7, $7)")
        .bind(Id::from(u.id)).bind(u.email).bind(u.email_norm)
        .bind(u.verified_at.map(Ts::new)).bind(u.name).bind(u.password_hash)
        .bind(Ts::new(now)).bind(u.platform_admin)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The user with this normalized email.
pub async fn by_email(conn: &mut Conn<'_>, email_norm: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email_norm = $1");
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(email_norm).fetch_optional(&mut *c).await)?;
    Ok(row.map(Into::into))
}

/// The user with this id.
pub async fn by_id(conn: &mut Conn<'_>, id: UserId) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Id::from(id)).fetch_optional(&mut *c).await)?;
    Ok(row.map(Into::into))
}

/// Number of users (setup is open only while it is zero).
pub async fn count(conn: &mut Conn<'_>) -> Result<i64> {
    Ok(
        on_conn!(conn, c => sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut *c).await)?,
    )
}

/// Marks the email verified (keeps an earlier verification time).
pub async fn mark_verified(conn: &mut Conn<'_>, id: UserId, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2), updated_at = $2 \
         WHERE id = $1")
        .bind(Id::from(id)).bind(Ts::new(now)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Replaces the password hash (login rehash, change, reset).
pub async fn set_password(
    conn: &mut Conn<'_>,
    id: UserId,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE users SET password_hash = $2, password_changed_at = $3, updated_at = $3 \
         WHERE id = $1")
        .bind(Id::from(id)).bind(hash).bind(Ts::new(now)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Increments the session epoch, ending every session of the user; returns the new epoch.
pub async fn bump_epoch(conn: &mut Conn<'_>, id: UserId, now: DateTime<Utc>) -> Result<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "UPDATE users SET session_epoch = session_epoch + 1, updated_at = $2 WHERE id = $1 \
         RETURNING session_epoch")
        .bind(Id::from(id)).bind(Ts::new(now)).fetch_one(&mut *c).await)?)
}

/// Records a login (or an org switch) and the org it chose.
pub async fn record_login(
    conn: &mut Conn<'_>,
    id: UserId,
    org: Option<OrgId>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE users SET last_login_at = $3, last_org_id = COALESCE($2, last_org_id), \
           updated_at = $3 WHERE id = $1")
        .bind(Id::from(id)).bind(org.map(Id::from)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Remembers the org of the last switch.
pub async fn set_last_org(conn: &mut Conn<'_>, id: UserId, org: OrgId) -> Result<()> {
    on_conn!(conn, c => sqlx::query("UPDATE users SET last_org_id = $2 WHERE id = $1")
        .bind(Id::from(id)).bind(Id::from(org)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Sets or clears the platform admin flag (CLI only); returns whether the user exists.
pub async fn set_platform_admin(
    conn: &mut Conn<'_>,
    email_norm: &str,
    on: bool,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_conn!(conn, c => sqlx::query(
        "UPDATE users SET is_platform_admin = $2, updated_at = $3 WHERE email_norm = $1")
        .bind(email_norm).bind(on).bind(Ts::new(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
