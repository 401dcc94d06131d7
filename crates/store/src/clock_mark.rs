//! The time high-water mark (`license_clock`, entitlements spec §13): the latest wall-clock time
//! any replica has seen, with a MAC over it.
//!
//! License decisions use `max(wall clock, high-water mark, …)`, so turning the machine clock back
//! cannot move a license to an earlier state. This module stores the mark and its MAC; the
//! entitlement layer computes and checks the MAC (its key never reaches the database).

use chrono::{DateTime, Utc};

use crate::{Conn, Result, Ts, on_conn};

/// The stored mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The latest time seen.
    pub high_water_at: DateTime<Utc>,
    /// HMAC over `high_water_at`, as written by [`advance`].
    pub mac: Option<String>,
}

/// Raises the mark to `to` (with its `mac`) if `to` is later, creating the row on first use.
/// One conditional statement, so concurrent replicas can only move the mark forward. On
/// PostgreSQL an observation more than 24 h ahead of the database's own clock is not recorded
/// (a forward-jumped replica cannot poison the mark). Returns whether the row changed.
pub async fn advance(conn: &mut Conn<'_>, to: DateTime<Utc>, mac: &str) -> Result<bool> {
    let done = match conn {
        Conn::Postgres(c) => sqlx::query(
            "INSERT INTO license_clock (id, high_water_at, mac, updated_at) \
             SELECT 1, $1, $2, $1 WHERE $1 <= now() + interval '24 hours' \
             ON CONFLICT (id) DO UPDATE SET high_water_at = excluded.high_water_at, \
               mac = excluded.mac, updated_at = excluded.updated_at \
             WHERE license_clock.high_water_at < excluded.high_water_at",
        )
        .bind(Ts::new(to))
        .bind(mac)
        .execute(&mut **c)
        .await?
        .rows_affected(),
        Conn::Sqlite(c) => sqlx::query(
            "INSERT INTO license_clock (id, high_water_at, mac, updated_at) VALUES (1, $1, $2, $1) \
             ON CONFLICT (id) DO UPDATE SET high_water_at = excluded.high_water_at, \
               mac = excluded.mac, updated_at = excluded.updated_at \
             WHERE license_clock.high_water_at < excluded.high_water_at",
        )
        .bind(Ts::new(to))
        .bind(mac)
        .execute(&mut **c)
        .await?
        .rows_affected(),
    };
    Ok(done > 0)
}

/// Sets the mark unconditionally (`admin license clock-reset --confirm`).
pub async fn reset(conn: &mut Conn<'_>, to: DateTime<Utc>, mac: &str) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO license_clock (id, high_water_at, mac, updated_at) VALUES (1, $1, $2, $1) \
         ON CONFLICT (id) DO UPDATE SET high_water_at = excluded.high_water_at, \
           mac = excluded.mac, updated_at = excluded.updated_at")
        .bind(Ts::new(to)).bind(mac)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The current mark, if any replica has recorded one.
pub async fn get(conn: &mut Conn<'_>) -> Result<Option<Mark>> {
    let row: Option<(Ts, Option<String>)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT high_water_at, mac FROM license_clock WHERE id = 1")
        .fetch_optional(&mut *c).await)?;
    Ok(row.map(|(t, mac)| Mark {
        high_water_at: t.get(),
        mac,
    }))
}
