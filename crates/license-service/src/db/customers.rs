//! `customers`: SaaS orgs and self-hosted buyers with their Stripe customer (billing spec §4).

use chrono::{DateTime, Utc};
use store::{Conn, Id, Result, Ts, on_conn, sqlx};
use uuid::Uuid;

/// A customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Our id.
    pub id: Uuid,
    /// `cus_…`, once Stripe knows it.
    pub stripe_customer_id: Option<String>,
    /// `saas` or `self_hosted`.
    pub kind: String,
    /// The ops org (SaaS).
    pub org_id: Option<Uuid>,
    /// Billing email.
    pub email: String,
    /// Company or org name.
    pub name: String,
    /// Self-hosted: the purchased deployment ids.
    pub deployment_ids: Vec<String>,
    /// When the one trial was used.
    pub trial_used_at: Option<DateTime<Utc>>,
}

type Raw = (
    Id,
    Option<String>,
    String,
    Option<Id>,
    String,
    String,
    String,
    Option<Ts>,
);
const COLUMNS: &str =
    "id, stripe_customer_id, kind, org_id, email, name, deployment_ids, trial_used_at";

fn row(r: Raw) -> Customer {
    Customer {
        id: r.0.0,
        stripe_customer_id: r.1,
        kind: r.2,
        org_id: r.3.map(|i| i.0),
        email: r.4,
        name: r.5,
        deployment_ids: serde_json::from_str(&r.6).unwrap_or_default(),
        trial_used_at: r.7.map(Ts::get),
    }
}

async fn one(conn: &mut Conn<'_>, filter: &str, bind: Bind<'_>) -> Result<Option<Customer>> {
    let sql = format!("SELECT {COLUMNS} FROM customers WHERE {filter} AND deleted_at IS NULL");
    let r: Option<Raw> = match bind {
        Bind::Id(id) => on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(Id(id)).fetch_optional(&mut *c).await)?,
        Bind::Text(t) => on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(t).fetch_optional(&mut *c).await)?,
    };
    Ok(r.map(row))
}

enum Bind<'a> {
    Id(Uuid),
    Text(&'a str),
}

/// By our id.
pub async fn by_id(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<Customer>> {
    one(conn, "id = $1", Bind::Id(id)).await
}

/// By the ops org.
pub async fn by_org(conn: &mut Conn<'_>, org: Uuid) -> Result<Option<Customer>> {
    one(conn, "org_id = $1", Bind::Id(org)).await
}

/// By Stripe's customer id.
pub async fn by_stripe_id(conn: &mut Conn<'_>, stripe_id: &str) -> Result<Option<Customer>> {
    one(conn, "stripe_customer_id = $1", Bind::Text(stripe_id)).await
}

/// Inserts a customer.
pub async fn insert(conn: &mut Conn<'_>, c_: &Customer, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO customers (id, stripe_customer_id, kind, org_id, email, name, deployment_ids, \
         trial_used_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(Id(c_.id))
    .bind(c_.stripe_customer_id.as_deref())
    .bind(&c_.kind)
    .bind(c_.org_id.map(Id))
    .bind(&c_.email)
    .bind(&c_.name)
    .bind(serde_json::to_string(&c_.deployment_ids).unwrap_or_else(|_| "[]".into()))
    .bind(c_.trial_used_at.map(Ts::new))
    .bind(Ts::new(now))
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records the Stripe customer of a customer row.
pub async fn set_stripe_id(
    conn: &mut Conn<'_>,
    id: Uuid,
    stripe_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE customers SET stripe_customer_id = $2, updated_at = $3 WHERE id = $1",
    )
    .bind(Id(id))
    .bind(stripe_id)
    .bind(Ts::new(now))
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Replaces the deployment ids of a self-hosted customer.
pub async fn set_deployment_ids(
    conn: &mut Conn<'_>,
    id: Uuid,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE customers SET deployment_ids = $2, updated_at = $3 WHERE id = $1",
    )
    .bind(Id(id))
    .bind(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
    .bind(Ts::new(now))
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Marks the org's one trial as used (first trialing subscription seen, §7.4).
pub async fn mark_trial_used(conn: &mut Conn<'_>, org: Uuid, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE customers SET trial_used_at = $2, updated_at = $2 WHERE org_id = $1 AND trial_used_at IS NULL",
    )
    .bind(Id(org))
    .bind(Ts::new(now))
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// `customer.deleted`: keeps the row, sets `deleted_at`.
pub async fn mark_deleted(conn: &mut Conn<'_>, stripe_id: &str, now: DateTime<Utc>) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE customers SET deleted_at = $2, updated_at = $2 WHERE stripe_customer_id = $1",
    )
    .bind(stripe_id)
    .bind(Ts::new(now))
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Self-hosted customers with this billing email (case-insensitive).
pub async fn self_hosted_by_email(conn: &mut Conn<'_>, email: &str) -> Result<Vec<Customer>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM customers WHERE kind = 'self_hosted' AND lower(email) = lower($1) \
         AND deleted_at IS NULL ORDER BY created_at"
    );
    let rows: Vec<Raw> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(email)
        .fetch_all(&mut *c)
        .await)?;
    Ok(rows.into_iter().map(row).collect())
}

/// Every Stripe customer id we know (reconciliation).
pub async fn with_stripe_id(conn: &mut Conn<'_>) -> Result<Vec<String>> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT stripe_customer_id FROM customers WHERE stripe_customer_id IS NOT NULL \
         AND deleted_at IS NULL ORDER BY created_at",
    )
    .fetch_all(&mut *c)
    .await)?)
}

/// Updates the email and name of the customer with this Stripe id where they differ; `true`
/// when a row changed.
pub async fn update_contact(
    conn: &mut Conn<'_>,
    stripe_id: &str,
    email: Option<&str>,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_conn!(conn, c => sqlx::query(
        "UPDATE customers SET email = COALESCE($2, email), name = COALESCE($3, name), updated_at = $4 \
         WHERE stripe_customer_id = $1 AND (email <> COALESCE($2, email) OR name <> COALESCE($3, name))",
    )
    .bind(stripe_id)
    .bind(email)
    .bind(name)
    .bind(Ts::new(now))
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
