//! The time high-water mark (`license_clock`): the latest wall-clock time any replica has seen.
//!
//! License decisions use `max(wall clock, high-water mark)`, so turning the machine clock back
//! cannot move a license to an earlier state. This module only stores and raises the mark; the
//! entitlement layer decides what to do with it.

use chrono::{DateTime, Utc};

use crate::{Conn, Result, Ts, on_conn};

/// Raises the mark to `now` if `now` is later, creating the row on first use, and returns the
/// mark after the update. The single statement is atomic on both backends, so concurrent
/// replicas can only move the mark forward.
pub async fn raise(conn: &mut Conn<'_>, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let mark: Ts = on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO license_clock (id, high_water_at, updated_at) VALUES (1, $1, $1) \
         ON CONFLICT (id) DO UPDATE SET \
           high_water_at = CASE WHEN license_clock.high_water_at < excluded.high_water_at \
                                THEN excluded.high_water_at ELSE license_clock.high_water_at END, \
           updated_at = excluded.updated_at \
         RETURNING high_water_at")
        .bind(Ts::new(now))
        .fetch_one(&mut *c).await)?;
    Ok(mark.get())
}

/// The current mark, if any replica has recorded one.
pub async fn get(conn: &mut Conn<'_>) -> Result<Option<DateTime<Utc>>> {
    let mark: Option<Ts> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT high_water_at FROM license_clock WHERE id = 1")
        .fetch_optional(&mut *c).await)?;
    Ok(mark.map(Ts::get))
}
