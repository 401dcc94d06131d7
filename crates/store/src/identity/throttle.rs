//! `login_throttle`: the per-account attempt slot and failure delay (identity spec §2.6).
//!
//! Rows are keyed by an HMAC of the email (never the email itself) and exist for unknown
//! addresses exactly as for real ones.

use chrono::{DateTime, Duration, Utc};

use crate::{Conn, Result, Ts, on_conn};

/// How long a claimed slot blocks other attempts if its holder never reports back.
pub const SLOT: Duration = Duration::seconds(5);

/// The outcome of [`claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The slot is ours; `failures` counted so far in the window.
    Granted {
        /// Failures before this attempt.
        failures: i32,
    },
    /// Another attempt holds the slot or the delay has not passed; retry at this time.
    Busy {
        /// Earliest useful retry.
        retry_at: DateTime<Utc>,
    },
}

/// Claims the account's attempt slot in one statement: it succeeds only when no other attempt
/// holds the slot and the failure delay has passed. Failures older than `window` are forgotten.
pub async fn claim(
    conn: &mut Conn<'_>,
    key: &str,
    now: DateTime<Utc>,
    window: Duration,
) -> Result<Claim> {
    let granted: Option<i32> = on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO login_throttle (key, failures, window_started_at, next_allowed_at, slot_until) \
         VALUES ($1, 0, $2, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET slot_until = excluded.slot_until, \
           failures = CASE WHEN login_throttle.last_failure_at < $4 THEN 0 \
                           ELSE login_throttle.failures END, \
           window_started_at = CASE WHEN login_throttle.last_failure_at < $4 THEN $2 \
                           ELSE login_throttle.window_started_at END \
         WHERE login_throttle.slot_until <= $2 AND login_throttle.next_allowed_at <= $2 \
         RETURNING failures")
        .bind(key).bind(Ts::new(now)).bind(Ts::new(now + SLOT)).bind(Ts::new(now - window))
        .fetch_optional(&mut *c).await)?;
    if let Some(failures) = granted {
        return Ok(Claim::Granted { failures });
    }
    let row: Option<(Ts, Ts)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT slot_until, next_allowed_at FROM login_throttle WHERE key = $1")
        .bind(key).fetch_optional(&mut *c).await)?;
    let retry_at = row.map_or(now + SLOT, |(slot, next)| slot.get().max(next.get()));
    Ok(Claim::Busy { retry_at })
}

/// A released slot and a cleared delay are stored as the epoch, not as "now": a machine clock
/// set back later must not find them still in the future (login is never blocked by a clock
/// rollback, entitlements spec §5.7).
const RELEASED: DateTime<Utc> = DateTime::UNIX_EPOCH;

/// Records a failed attempt: `failures` becomes `failures`, the next attempt waits until
/// `next_allowed_at`, and the slot is released.
pub async fn fail(
    conn: &mut Conn<'_>,
    key: &str,
    failures: i32,
    next_allowed_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE login_throttle SET failures = $2, last_failure_at = $3, next_allowed_at = $4, \
           slot_until = $5 WHERE key = $1")
        .bind(key).bind(failures).bind(Ts::new(now)).bind(Ts::new(next_allowed_at)).bind(Ts::new(RELEASED))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Clears the account's failures and releases its slot (successful login, password reset).
pub async fn reset(conn: &mut Conn<'_>, key: &str, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE login_throttle SET failures = 0, last_failure_at = NULL, window_started_at = $2, \
           next_allowed_at = $3, slot_until = $3 WHERE key = $1")
        .bind(key).bind(Ts::new(now)).bind(Ts::new(RELEASED)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Releases the slot without counting anything (the attempt ended before a password check).
pub async fn release(conn: &mut Conn<'_>, key: &str) -> Result<()> {
    on_conn!(conn, c => sqlx::query("UPDATE login_throttle SET slot_until = $2 WHERE key = $1")
        .bind(key).bind(Ts::new(RELEASED)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The failures recorded for a key (tests and diagnostics).
pub async fn failures(conn: &mut Conn<'_>, key: &str) -> Result<Option<i32>> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT failures FROM login_throttle WHERE key = $1")
        .bind(key).fetch_optional(&mut *c).await)?)
}

/// Deletes rows whose last failure is older than `before` (the 24 h sweep).
pub async fn sweep(conn: &mut Conn<'_>, before: DateTime<Utc>) -> Result<u64> {
    Ok(on_conn!(conn, c => sqlx::query(
        "DELETE FROM login_throttle WHERE COALESCE(last_failure_at, window_started_at) < $1 \
           AND slot_until < $1")
        .bind(Ts::new(before)).execute(&mut *c).await.map(|r| r.rows_affected()))?)
}
