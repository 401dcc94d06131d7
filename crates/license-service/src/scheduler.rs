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

/// How often the reconciliation with Stripe runs (one replica, through a lease).
pub const RECONCILE_EVERY: chrono::Duration = chrono::Duration::hours(24);

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
                    if let Err(e) = self.poll_overdue().await {
                        tracing::warn!("scheduler, overdue subscriptions: {e}");
                    }
                    match self.take_lease("reconcile", &holder, RECONCILE_EVERY).await {
                        Ok(true) => match self.reconcile(false).await {
                            Ok(d) if !d.is_empty() => {
                                tracing::warn!(
                                    corrected = d.len(),
                                    "nightly reconcile corrected subscriptions from Stripe"
                                );
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!("nightly reconcile: {e}"),
                        },
                        Ok(false) => {}
                        Err(e) => tracing::warn!("reconcile lease: {e}"),
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
        let ttl = chrono::Duration::seconds(3 * INTERVAL.as_secs() as i64);
        self.lease("scheduler", holder, ttl, true).await
    }

    /// A once-per-`every` turn: `true` when the lease was free (expired) and is now taken.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        every: chrono::Duration,
    ) -> Result<bool, SvcError> {
        self.lease(name, holder, every, false).await
    }

    /// Takes the lease `name` for `ttl` when it expired, or (`renew`) when `holder` holds it.
    async fn lease(
        &self,
        name: &str,
        holder: &str,
        ttl: chrono::Duration,
        renew: bool,
    ) -> Result<bool, SvcError> {
        let now = self.clock.now();
        let sql = if renew {
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at < $4"
        } else {
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.expires_at < $4"
        };
        let mut c = self.store.acquire().await?;
        let done = on_conn!(&mut c.conn(), c => sqlx::query(sql)
            .bind(name)
            .bind(holder)
            .bind(Ts::new(now + ttl))
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
        let age = self.report_outbox().await;
        if age > crate::delivery::STUCK_AFTER_S {
            tracing::warn!(
                alert = true,
                oldest_age_s = age,
                "a push to ops has been pending for more than 5 minutes"
            );
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
