//! The evaluation time of licenses (entitlements spec §13): `t_eval = max(wall clock,
//! high-water mark, max iat seen)`, with the mark MAC-ed under a key derived from the instance
//! secret so an edited row is ignored (and reported) instead of trusted.

use auth::keys::MacKey;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use store::Conn;
use store::clock_mark::{self, Mark};

/// A rollback is reported when the wall clock is this far behind the mark.
pub(crate) const ROLLBACK_REPORT: Duration = Duration::hours(24);

/// What the clock looks like to one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClockView {
    /// The verified mark (after raising it to this replica's wall clock).
    pub high_water_at: Option<DateTime<Utc>>,
    /// The wall clock is more than 24 h behind the mark.
    pub rollback_detected: bool,
    /// How far behind, in seconds, when a rollback is reported.
    pub behind_by_s: Option<i64>,
    /// The stored mark's MAC did not verify; it is ignored.
    pub watermark_tampered: bool,
}

impl ClockView {
    /// `max(wall, mark)`; the caller adds the largest applied `iat`.
    pub(crate) fn floor(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        self.high_water_at.map_or(wall, |m| m.max(wall))
    }
}

fn mac_of(key: &MacKey, at: DateTime<Utc>) -> String {
    key.sign(&[b"license_clock", store::Ts::new(at).to_text().as_bytes()])
}

/// Raises the mark to `wall` (unless the stored mark is tampered, which stays as found so the
/// report persists until `admin license clock-reset`) and returns the verified view.
pub(crate) async fn observe(
    conn: &mut Conn<'_>,
    key: &MacKey,
    wall: DateTime<Utc>,
) -> store::Result<ClockView> {
    read(conn, key, wall, true).await
}

/// The verified view without raising the mark (status pages read it on every view).
pub(crate) async fn peek(
    conn: &mut Conn<'_>,
    key: &MacKey,
    wall: DateTime<Utc>,
) -> store::Result<ClockView> {
    read(conn, key, wall, false).await
}

async fn read(
    conn: &mut Conn<'_>,
    key: &MacKey,
    wall: DateTime<Utc>,
    raise: bool,
) -> store::Result<ClockView> {
    let stored = clock_mark::get(conn).await?;
    let verified = |m: &Mark| {
        m.mac.as_deref().is_some_and(|tag| {
            key.verify(
                &[
                    b"license_clock",
                    store::Ts::new(m.high_water_at).to_text().as_bytes(),
                ],
                tag,
            )
        })
    };
    let tampered = stored.as_ref().is_some_and(|m| !verified(m));
    let mut mark = stored
        .filter(|m| !tampered && verified(m))
        .map(|m| m.high_water_at);
    if raise
        && !tampered
        && mark.is_none_or(|m| m < wall)
        && clock_mark::advance(conn, wall, &mac_of(key, wall)).await?
    {
        mark = Some(wall);
    }
    let behind = mark.map(|m| m - wall).filter(|d| *d > ROLLBACK_REPORT);
    Ok(ClockView {
        high_water_at: mark,
        rollback_detected: behind.is_some(),
        behind_by_s: behind.map(|d| d.num_seconds()),
        watermark_tampered: tampered,
    })
}

/// Rewrites the mark (the repair path for a poisoned or tampered mark).
pub(crate) async fn reset(
    conn: &mut Conn<'_>,
    key: &MacKey,
    to: DateTime<Utc>,
) -> store::Result<Option<DateTime<Utc>>> {
    let before = clock_mark::get(conn).await?.map(|m| m.high_water_at);
    clock_mark::reset(conn, to, &mac_of(key, to)).await?;
    Ok(before)
}
