//! The scheduler (billing spec §8): every 60 s, recompute the orgs whose signed deadlines have
//! passed (dunning, trial, comp, `exp`), so ops gets the community push at the deadline even if
//! Stripe sends nothing. One leader among replicas through a lease row.

use std::time::Duration;

use chrono::{DateTime, Utc};
use store::{Id, Ts, on_conn, sqlx};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::service::{Service, SvcError};

/// How long Stripe event payloads are kept (the rows stay).
pub const PAYLOAD_KEPT: chrono::Duration = chrono::Duration::days(90);

/// How often the scheduler runs.
pub const INTERVAL: Duration = Duration::from_secs(60);

impl Service {
    /// Runs [`Service::tick`] every [`INTERVAL`] until `stop` fires.
    pub async fn run_scheduler(&self, stop: CancellationToken) {
        let holder = Uuid::now_v7().to_string();
        loop {
            match self.lead(&holder).await {
                Ok(true) => {
                    if let Err(e) = self.tick().await {
                        tracing::warn!("scheduler: {e}");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!("scheduler lease: {e}"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(INTERVAL) => {}
            }
        }
    }

    /// Takes or renews the scheduler lease; `true` when this replica leads.
    async fn lead(&self, holder: &str) -> Result<bool, SvcError> {
        let now = self.clock.now();
        let until = now + chrono::Duration::seconds(3 * INTERVAL.as_secs() as i64);
        let mut c = self.store.acquire().await?;
        let done = on_conn!(&mut c.conn(), c => sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ('scheduler', $1, $2) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at < $3",
        )
        .bind(holder)
        .bind(Ts::new(until))
        .bind(Ts::new(now))
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))
        .map_err(store::StoreError::from)?;
        Ok(done == 1)
    }

    /// One pass: every org with a paid entitlement whose `exp` or comp grant has passed, or
    /// whose dunning deadline has, is recomputed (and pushed when it changed); expired request
    /// nonces and event payloads older than 90 days are dropped. Returns how many orgs were
    /// signed anew.
    pub async fn tick(&self) -> Result<usize, SvcError> {
        let now = self.clock.now();
        let due = {
            let mut c = self.store.acquire().await?;
            due_orgs(&mut c.conn(), now).await?
        };
        let mut signed = 0;
        for org in due {
            let mut tx = self.store.begin_write().await?;
            if matches!(
                self.recompute(&mut tx.conn(), org, now).await?,
                crate::entitlement::Recomputed::Signed(_)
            ) {
                signed += 1;
            }
            tx.commit().await?;
        }
        if signed > 0 {
            self.outbox_wake.notify_one();
        }
        let mut c = self.store.acquire().await?;
        crate::db::nonces::purge(&mut c.conn(), now).await?;
        crate::db::events::purge_payloads(&mut c.conn(), now - PAYLOAD_KEPT).await?;
        Ok(signed)
    }
}

/// Orgs whose paid entitlement reached its `exp` (dunning deadlines, trial ends and
/// cancel-at-period-end are all carried as `exp`) or whose comp grant ended.
async fn due_orgs(conn: &mut store::Conn<'_>, now: DateTime<Utc>) -> Result<Vec<Uuid>, SvcError> {
    let rows: Vec<(Id,)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT org_id FROM entitlements WHERE (tier <> 'community' AND exp <= $1) \
         OR (comp_until IS NOT NULL AND comp_until <= $2)",
    )
    .bind(now.timestamp())
    .bind(Ts::new(now))
    .fetch_all(&mut *c)
    .await)
    .map_err(store::StoreError::from)?;
    Ok(rows.into_iter().map(|r| r.0.0).collect())
}
