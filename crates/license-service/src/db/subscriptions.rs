//! `subscriptions`: one row per Stripe subscription, the join of its events' observations
//! (billing spec §4, §7.1 steps 10–12).

use chrono::{DateTime, Utc};
use domain::Tier;
use store::{Conn, Id, Result, Ts, on_conn, sqlx};
use uuid::Uuid;

use crate::subscription::{Observation, Status, Subscription};

/// A stored subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubRow {
    /// `sub_…`.
    pub id: String,
    /// `cus_…`.
    pub stripe_customer_id: String,
    /// The ops org (SaaS).
    pub org_id: Option<Uuid>,
    /// `saas` or `self_hosted`.
    pub kind: String,
    /// The price (or plan) id.
    pub price_id: String,
    /// The kept observation and `past_due_since`.
    pub sub: Subscription,
    /// `created` of the kept event.
    pub last_event_created: i64,
    /// The event whose observation is kept.
    pub last_event_id: String,
}

type Raw = (
    String,
    String,
    Option<Id>,
    String,
    String,
    Option<String>,
    String,
    bool,
    Ts,
    Option<Ts>,
    Option<Ts>,
    i64,
    String,
);

const COLUMNS: &str = "stripe_subscription_id, stripe_customer_id, org_id, kind, price_id, tier, \
    status, cancel_at_period_end, current_period_end, trial_end, past_due_since, \
    last_event_created, last_event_id";

fn row(r: Raw) -> SubRow {
    SubRow {
        id: r.0,
        stripe_customer_id: r.1,
        org_id: r.2.map(|i| i.0),
        kind: r.3,
        price_id: r.4,
        sub: Subscription {
            state: Observation {
                created: r.11,
                status: Status::parse(&r.6),
                tier: r.5.and_then(|t| t.parse::<Tier>().ok()),
                cancel_at_period_end: r.7,
                current_period_end: r.8.get(),
                trial_end: r.9.map(Ts::get),
                fetched_at: None,
            },
            past_due_since: r.10.map(Ts::get),
        },
        last_event_created: r.11,
        last_event_id: r.12,
    }
}

/// A subscription, locked for the rest of the transaction. PostgreSQL takes a transaction-scoped
/// advisory lock on the id first, so two events of a subscription that has no row yet are
/// ordered too (`FOR UPDATE` locks only rows that exist); SQLite writers hold `BEGIN IMMEDIATE`.
pub async fn lock(conn: &mut Conn<'_>, id: &str) -> Result<Option<SubRow>> {
    conn.lock_key(&format!("subscription:{id}")).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions WHERE stripe_subscription_id = $1{}",
        super::for_update(conn)
    );
    let r: Option<Raw> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await)?;
    Ok(r.map(row))
}

/// The stored `last_event_created` (the read-only ordering pre-check of §7.1 step 7).
pub async fn last_event_created(conn: &mut Conn<'_>, id: &str) -> Result<Option<i64>> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT last_event_created FROM subscriptions WHERE stripe_subscription_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *c)
    .await)?)
}

/// Inserts or replaces a subscription row.
pub async fn put(conn: &mut Conn<'_>, s: &SubRow, now: DateTime<Utc>) -> Result<()> {
    let o = &s.sub.state;
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO subscriptions (stripe_subscription_id, stripe_customer_id, org_id, kind, price_id, \
         tier, status, cancel_at_period_end, current_period_end, trial_end, past_due_since, \
         last_event_created, last_event_id, terminal, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (stripe_subscription_id) DO UPDATE SET stripe_customer_id = excluded.stripe_customer_id, \
         org_id = excluded.org_id, kind = excluded.kind, price_id = excluded.price_id, tier = excluded.tier, \
         status = excluded.status, cancel_at_period_end = excluded.cancel_at_period_end, \
         current_period_end = excluded.current_period_end, trial_end = excluded.trial_end, \
         past_due_since = excluded.past_due_since, last_event_created = excluded.last_event_created, \
         last_event_id = excluded.last_event_id, terminal = excluded.terminal, updated_at = excluded.updated_at",
    )
    .bind(&s.id)
    .bind(&s.stripe_customer_id)
    .bind(s.org_id.map(Id))
    .bind(&s.kind)
    .bind(&s.price_id)
    .bind(o.tier.map(|t| t.as_str()))
    .bind(o.status.as_str())
    .bind(o.cancel_at_period_end)
    .bind(Ts::new(o.current_period_end))
    .bind(o.trial_end.map(Ts::new))
    .bind(s.sub.past_due_since.map(Ts::new))
    .bind(s.last_event_created)
    .bind(&s.last_event_id)
    .bind(o.status.is_terminal())
    .bind(Ts::new(now))
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The subscriptions of an org.
pub async fn by_org(conn: &mut Conn<'_>, org: Uuid) -> Result<Vec<SubRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions WHERE org_id = $1 ORDER BY stripe_subscription_id"
    );
    let rows: Vec<Raw> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(Id(org))
        .fetch_all(&mut *c)
        .await)?;
    Ok(rows.into_iter().map(row).collect())
}

/// The subscriptions of a Stripe customer.
pub async fn by_customer(conn: &mut Conn<'_>, stripe_customer_id: &str) -> Result<Vec<SubRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions WHERE stripe_customer_id = $1 ORDER BY stripe_subscription_id"
    );
    let rows: Vec<Raw> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(stripe_customer_id)
        .fetch_all(&mut *c)
        .await)?;
    Ok(rows.into_iter().map(row).collect())
}

/// Whether any subscription of the org ever had a trial (trial eligibility, §7.4).
pub async fn org_ever_trialed(conn: &mut Conn<'_>, org: Uuid) -> Result<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM subscriptions WHERE org_id = $1 AND trial_end IS NOT NULL",
    )
    .bind(Id(org))
    .fetch_one(&mut *c)
    .await)?;
    Ok(n > 0)
}

/// A subscription.
pub async fn get(conn: &mut Conn<'_>, id: &str) -> Result<Option<SubRow>> {
    let sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE stripe_subscription_id = $1");
    let r: Option<Raw> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await)?;
    Ok(r.map(row))
}

/// Active or trialing subscriptions whose period ended before `before` (no renewal seen).
pub async fn overdue(conn: &mut Conn<'_>, before: DateTime<Utc>) -> Result<Vec<String>> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT stripe_subscription_id FROM subscriptions WHERE status IN ('active', 'trialing') \
         AND current_period_end < $1 ORDER BY stripe_subscription_id",
    )
    .bind(Ts::new(before))
    .fetch_all(&mut *c)
    .await)?)
}
