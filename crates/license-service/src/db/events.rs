//! `stripe_events`: every verified Stripe event, its outcome, and what it said about its
//! subscription (billing spec §4, §7.1 steps 6, 9, 12, 13).

use chrono::{DateTime, Utc};
use store::{Conn, Result, Ts, on_conn, sqlx};

use crate::subscription::Observation;

/// The recorded outcome of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Inserted, its effect not yet decided (only inside the transaction).
    Pending,
    /// Changed the subscription.
    Applied,
    /// Taken, but nothing changed.
    NoChange,
    /// Older than what is stored.
    Stale,
    /// A known type that needs no action, or the other mode (live/test).
    Ignored,
    /// A type license-svc does not handle (counted and alerted).
    Unhandled,
    /// No org could be found for it.
    Unlinked,
    /// The subscription's price is not in the price map.
    UnknownPrice,
    /// A subscription status license-svc does not know.
    UnknownStatus,
    /// A deterministic handler failure (see `detail`).
    Error,
}

impl Outcome {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Applied => "applied",
            Outcome::NoChange => "no_change",
            Outcome::Stale => "stale",
            Outcome::Ignored => "ignored",
            Outcome::Unhandled => "unhandled",
            Outcome::Unlinked => "unlinked",
            Outcome::UnknownPrice => "unknown_price",
            Outcome::UnknownStatus => "unknown_status",
            Outcome::Error => "error",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::Pending,
            Outcome::Applied,
            Outcome::NoChange,
            Outcome::Stale,
            Outcome::Ignored,
            Outcome::Unhandled,
            Outcome::Unlinked,
            Outcome::UnknownPrice,
            Outcome::UnknownStatus,
            Outcome::Error,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// A new event row.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// `evt_…`.
    pub event_id: &'a str,
    /// The event type.
    pub kind: &'a str,
    /// Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
    /// `data.object.id`.
    pub object_id: Option<&'a str>,
    /// The subscription it is about.
    pub subscription_id: Option<&'a str>,
    /// When license-svc received it.
    pub received_at: DateTime<Utc>,
    /// The raw body (purged after 90 days; the row stays).
    pub payload: &'a str,
}

/// Whether the event is already stored (the read-only fast duplicate check).
pub async fn exists(conn: &mut Conn<'_>, event_id: &str) -> Result<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM stripe_events WHERE event_id = $1",
    )
    .bind(event_id)
    .fetch_one(&mut *c)
    .await)?;
    Ok(n > 0)
}

/// Inserts the event with outcome `pending`; `false` when it was already there (a duplicate:
/// a concurrent one waits on the unique index and lands here too).
pub async fn insert(conn: &mut Conn<'_>, e: &NewEvent<'_>) -> Result<bool> {
    let done = on_conn!(conn, c => sqlx::query(
        "INSERT INTO stripe_events (event_id, type, created, livemode, object_id, subscription_id, \
         received_at, outcome, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8) \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(e.event_id)
    .bind(e.kind)
    .bind(e.created)
    .bind(e.livemode)
    .bind(e.object_id)
    .bind(e.subscription_id)
    .bind(Ts::new(e.received_at))
    .bind(e.payload)
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Sets the outcome, its detail, and the observation the event contributed (if any).
pub async fn finish(
    conn: &mut Conn<'_>,
    event_id: &str,
    outcome: Outcome,
    detail: Option<&str>,
    observation: Option<&Observation>,
) -> Result<()> {
    let observed = observation.map(|o| o.status.as_str().to_owned());
    let observation = observation.map(|o| serde_json::to_string(o).unwrap_or_default());
    on_conn!(conn, c => sqlx::query(
        "UPDATE stripe_events SET outcome = $2, detail = $3, observed_status = $4, observation = $5 \
         WHERE event_id = $1",
    )
    .bind(event_id)
    .bind(outcome.as_str())
    .bind(detail)
    .bind(observed)
    .bind(observation)
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Every observation stored for a subscription (the join the row is recomputed from).
pub async fn observations(conn: &mut Conn<'_>, subscription_id: &str) -> Result<Vec<Observation>> {
    let rows: Vec<(String,)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT observation FROM stripe_events WHERE subscription_id = $1 AND observation IS NOT NULL",
    )
    .bind(subscription_id)
    .fetch_all(&mut *c)
    .await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(j,)| serde_json::from_str(&j).ok())
        .collect())
}

/// A stored event, for `events list` and tests.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventRow {
    /// `evt_…`.
    pub event_id: String,
    /// The type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    /// The outcome.
    pub outcome: String,
    /// Why, for `error` and alerts.
    pub detail: Option<String>,
    /// The subscription status the event carried.
    pub observed_status: Option<String>,
    /// The subscription.
    pub subscription_id: Option<String>,
}

type ListRaw = (
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Events, newest first, optionally only one outcome or type.
pub async fn list(
    conn: &mut Conn<'_>,
    outcome: Option<&str>,
    kind: Option<&str>,
    since: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<EventRow>> {
    let rows: Vec<ListRaw> = on_conn!(conn, c => sqlx::query_as(
            "SELECT event_id, type, created, outcome, detail, observed_status, subscription_id \
             FROM stripe_events WHERE ($1 IS NULL OR outcome = $1) AND ($2 IS NULL OR type = $2) \
             AND ($3 IS NULL OR received_at >= $3) ORDER BY received_at DESC, event_id LIMIT $4",
        )
        .bind(outcome)
        .bind(kind)
        .bind(since.map(Ts::new))
        .bind(limit)
        .fetch_all(&mut *c)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|r| EventRow {
            event_id: r.0,
            kind: r.1,
            created: r.2,
            outcome: r.3,
            detail: r.4,
            observed_status: r.5,
            subscription_id: r.6,
        })
        .collect())
}

/// The raw payload of a stored event (`events reprocess`).
pub async fn payload(conn: &mut Conn<'_>, event_id: &str) -> Result<Option<String>> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT payload FROM stripe_events WHERE event_id = $1",
    )
    .bind(event_id)
    .fetch_optional(&mut *c)
    .await)?
    .flatten())
}

/// Deletes a stored event so it can be processed again (`events reprocess`).
pub async fn delete(conn: &mut Conn<'_>, event_id: &str) -> Result<()> {
    on_conn!(conn, c => sqlx::query("DELETE FROM stripe_events WHERE event_id = $1")
        .bind(event_id)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Events with outcome `unhandled` received since `since` (`/readyz`).
pub async fn unhandled_since(conn: &mut Conn<'_>, since: DateTime<Utc>) -> Result<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM stripe_events WHERE outcome = 'unhandled' AND received_at >= $1",
    )
    .bind(Ts::new(since))
    .fetch_one(&mut *c)
    .await)?)
}

/// Drops payloads older than `before` (the rows stay: §4 keeps the history, not the bodies).
pub async fn purge_payloads(conn: &mut Conn<'_>, before: DateTime<Utc>) -> Result<u64> {
    Ok(on_conn!(conn, c => sqlx::query(
        "UPDATE stripe_events SET payload = NULL WHERE received_at < $1 AND payload IS NOT NULL",
    )
    .bind(Ts::new(before))
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// Whether an `unhandled` event of `kind` was already received since `since` (the alert for a
/// type is raised once per day).
pub async fn unhandled_seen_since(
    conn: &mut Conn<'_>,
    kind: &str,
    since: DateTime<Utc>,
    except: &str,
) -> Result<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM stripe_events WHERE outcome = 'unhandled' AND type = $1 \
         AND received_at >= $2 AND event_id <> $3",
    )
    .bind(kind)
    .bind(Ts::new(since))
    .bind(except)
    .fetch_one(&mut *c)
    .await)?;
    Ok(n > 0)
}
