//! `invites`: pending offers to join an org, redeemed with a mailed one-time token.

use chrono::{DateTime, Utc};
use domain::{OrgId, Role, UserId};
use uuid::Uuid;

use super::parse_col;
use crate::{Conn, Id, Result, Ts, on_conn};

/// A stored invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// Id.
    pub id: Uuid,
    /// The org.
    pub org_id: OrgId,
    /// Invited address (normalized).
    pub email_norm: String,
    /// Role granted on acceptance (never owner).
    pub role: Role,
    /// Who invited.
    pub invited_by: Option<UserId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry of the current token.
    pub expires_at: DateTime<Utc>,
    /// Last (re)send.
    pub last_sent_at: DateTime<Utc>,
    /// Sends so far.
    pub send_count: i32,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Id,
    org_id: Id,
    email_norm: String,
    role: String,
    invited_by: Option<Id>,
    created_at: Ts,
    expires_at: Ts,
    last_sent_at: Ts,
    send_count: i32,
    status: String,
}

impl TryFrom<Row> for Invite {
    type Error = crate::StoreError;

    fn try_from(r: Row) -> Result<Invite> {
        Ok(Invite {
            id: r.id.0,
            org_id: r.org_id.into(),
            email_norm: r.email_norm,
            role: parse_col("invites.role", &r.role)?,
            invited_by: r.invited_by.map(Into::into),
            created_at: r.created_at.get(),
            expires_at: r.expires_at.get(),
            last_sent_at: r.last_sent_at.get(),
            send_count: r.send_count,
            status: r.status,
        })
    }
}

const COLUMNS: &str = "id, org_id, email_norm, role, invited_by, created_at, expires_at, \
     last_sent_at, send_count, status";

/// Stores a pending invite. A second pending invite for the address fails with a unique
/// violation.
pub async fn insert(conn: &mut Conn<'_>, i: &Invite, hash: &str) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO invites (id, org_id, email_norm, role, token_hash, invited_by, created_at, \
           expires_at, last_sent_at, send_count, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, 1, 'pending')")
        .bind(Id(i.id)).bind(Id::from(i.org_id)).bind(&i.email_norm).bind(i.role.as_str())
        .bind(hash).bind(i.invited_by.map(Id::from)).bind(Ts::new(i.created_at))
        .bind(Ts::new(i.expires_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// One invite of the org.
pub async fn get(conn: &mut Conn<'_>, org: OrgId, id: Uuid) -> Result<Option<Invite>> {
    let sql = format!("SELECT {COLUMNS} FROM invites WHERE org_id = $1 AND id = $2");
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Id::from(org)).bind(Id(id)).fetch_optional(&mut *c).await)?;
    row.map(Invite::try_from).transpose()
}

/// The invite holding a token hash (the token is the only way in from outside the org).
pub async fn by_hash(conn: &mut Conn<'_>, hash: &str) -> Result<Option<Invite>> {
    let sql = format!("SELECT {COLUMNS} FROM invites WHERE token_hash = $1");
    let row: Option<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(hash).fetch_optional(&mut *c).await)?;
    row.map(Invite::try_from).transpose()
}

/// A page of the org's invites (newest first), optionally of one status, before id `before`.
pub async fn list(
    conn: &mut Conn<'_>,
    org: OrgId,
    status: Option<&str>,
    before: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Invite>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM invites WHERE org_id = $1 AND ($2 IS NULL OR status = $2) \
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
    );
    let rows: Vec<Row> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Id::from(org)).bind(status).bind(before.map(Id)).bind(i64::from(limit))
        .fetch_all(&mut *c).await)?;
    rows.into_iter().map(Invite::try_from).collect()
}

/// Pending, unexpired invites of the org (they count against the users limit).
pub async fn count_pending(conn: &mut Conn<'_>, org: OrgId, now: DateTime<Utc>) -> Result<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM invites WHERE org_id = $1 AND status = 'pending' AND expires_at > $2")
        .bind(Id::from(org)).bind(Ts::new(now)).fetch_one(&mut *c).await)?)
}

/// Marks pending invites past their expiry as expired (so a new invite to the address can be
/// made); returns how many.
pub async fn expire_stale(conn: &mut Conn<'_>, org: OrgId, now: DateTime<Utc>) -> Result<u64> {
    Ok(on_conn!(conn, c => sqlx::query(
        "UPDATE invites SET status = 'expired' \
         WHERE org_id = $1 AND status = 'pending' AND expires_at <= $2")
        .bind(Id::from(org)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?)
}

/// Replaces the token of a pending invite and restarts its expiry.
pub async fn resend(
    conn: &mut Conn<'_>,
    org: OrgId,
    id: Uuid,
    hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE invites SET token_hash = $3, expires_at = $4, last_sent_at = $5, \
           send_count = send_count + 1 WHERE org_id = $1 AND id = $2 AND status = 'pending'")
        .bind(Id::from(org)).bind(Id(id)).bind(hash).bind(Ts::new(expires_at)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Ends a pending invite as `revoked` or `accepted` by `user`; returns whether it was pending.
pub async fn close(
    conn: &mut Conn<'_>,
    org: OrgId,
    id: Uuid,
    accepted: bool,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<bool> {
    let sql = if accepted {
        "UPDATE invites SET status = 'accepted', accepted_by = $3, accepted_at = $4 \
         WHERE org_id = $1 AND id = $2 AND status = 'pending'"
    } else {
        "UPDATE invites SET status = 'revoked', revoked_by = $3, revoked_at = $4 \
         WHERE org_id = $1 AND id = $2 AND status = 'pending'"
    };
    let n = on_conn!(conn, c => sqlx::query(sql)
        .bind(Id::from(org)).bind(Id(id)).bind(Id::from(user)).bind(Ts::new(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
