//! The outbox worker (billing spec §9): POSTs each pending signed entitlement to its ops
//! receiver, retries with capped exponential backoff and jitter, and classifies ops' answers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::db::outbox::{self, Row, Status};
use crate::service::{Service, SvcError};

/// How long a token rejected by ops (401/400) keeps being retried: covers a key rollout lag.
pub const REJECTED_RETRY_FOR: chrono::Duration = chrono::Duration::hours(1);
/// How long a claimed row is hidden from other workers: longer than one delivery can take.
const LEASE: chrono::Duration = chrono::Duration::seconds(30);
/// A pending push older than this raises an alert (billing spec §14), once per scheduler pass.
pub const STUCK_AFTER_S: i64 = 300;
/// Per-delivery HTTP timeout.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// `delay(n) = min(base · 2^(n−1), cap)` without jitter (n ≥ 1 is the attempt just failed).
pub fn backoff(n: i64, base: Duration, cap: Duration) -> Duration {
    let shift = u32::try_from(n.clamp(1, 32) - 1).unwrap_or(31);
    base.checked_mul(1u32 << shift.min(31))
        .unwrap_or(cap)
        .min(cap)
}

/// [`backoff`] with ±20 % jitter.
pub fn jittered(d: Duration) -> Duration {
    d.mul_f64(rand::rng().random_range(0.8..=1.2))
}

/// What to do with a row after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Done(Status),
    Retry,
    RetryBriefly,
}

/// The §9 table.
fn verdict(status: Option<u16>) -> Verdict {
    match status {
        Some(200) => Verdict::Done(Status::Delivered),
        Some(409) => Verdict::Done(Status::Superseded),
        Some(404 | 413 | 415) => Verdict::Done(Status::Dead),
        Some(400 | 401) => Verdict::RetryBriefly,
        _ => Verdict::Retry,
    }
}

impl Service {
    /// Runs the worker until `shutdown` fires: delivers what is due, then sleeps until woken by a
    /// commit or for at most one second.
    pub async fn run_outbox(&self, shutdown: CancellationToken) {
        crate::install_tls_provider();
        let http = match reqwest::Client::builder().timeout(TIMEOUT).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("outbox worker cannot start its HTTP client: {e}");
                return;
            }
        };
        loop {
            if let Err(e) = self.deliver_due(&http).await {
                tracing::warn!("outbox: {e}");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.outbox_wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// One pass: every due row, oldest first. Returns how many attempts were made.
    pub async fn deliver_due(&self, http: &reqwest::Client) -> Result<usize, SvcError> {
        let now = self.clock.now();
        // Claim in a short transaction: the rows are leased (their next attempt moved past the
        // HTTP timeout), so no lock is held while ops is called and another replica skips them.
        let mut tx = self.store.begin_write().await?;
        let rows = outbox::claim_due(&mut tx.conn(), now, 100, now + LEASE).await?;
        tx.commit().await?;
        for row in &rows {
            let (status, error) = self.attempt(http, row).await;
            let mut c = self.store.acquire().await?;
            self.record(&mut c.conn(), row, status, error.as_deref())
                .await?;
        }
        self.report_outbox().await;
        Ok(rows.len())
    }

    async fn attempt(&self, http: &reqwest::Client, row: &Row) -> (Option<u16>, Option<String>) {
        let Some(receiver) = self
            .config
            .ops
            .receivers
            .iter()
            .find(|r| r.deployment_id == row.deployment_id)
        else {
            return (
                None,
                Some(format!("no receiver for deployment {}", row.deployment_id)),
            );
        };
        let sent = http
            .post(receiver.url.clone())
            .header("content-type", "application/jwt")
            .header("x-devhealth-delivery", row.id.to_string())
            .body(row.token.clone())
            .send()
            .await;
        match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                let error = (status != 200).then(|| body.chars().take(300).collect());
                if status == 200 {
                    let latency = (self.clock.now() - row.created_at).num_milliseconds();
                    metrics::histogram!("entitlement_push_latency_seconds")
                        .record(latency as f64 / 1000.0);
                }
                (Some(status), error)
            }
            Err(e) => (None, Some(e.without_url().to_string())),
        }
    }

    async fn record(
        &self,
        conn: &mut store::Conn<'_>,
        row: &Row,
        status: Option<u16>,
        error: Option<&str>,
    ) -> Result<(), SvcError> {
        let now = self.clock.now();
        let attempts = row.attempts + 1;
        let cfg = &self.config.outbox;
        let age = now - row.created_at;
        let retry_at = |d: Duration| {
            now + chrono::Duration::from_std(jittered(d)).unwrap_or(chrono::Duration::MAX)
        };
        let next = retry_at(backoff(attempts, cfg.base, cfg.cap));
        let dead_after =
            chrono::Duration::from_std(cfg.dead_after).unwrap_or(chrono::Duration::MAX);
        let new_status = match verdict(status) {
            Verdict::Done(s) => s,
            Verdict::RetryBriefly if age >= REJECTED_RETRY_FOR => Status::Dead,
            Verdict::Retry if age >= dead_after => Status::Dead,
            Verdict::Retry | Verdict::RetryBriefly => Status::Pending,
        };
        if new_status == Status::Dead {
            metrics::counter!("outbox_dead_total").increment(1);
            tracing::error!(alert = true, id = row.id, org = %row.org_id, status, error,
                "outbox row is dead: replay it with `dev-health license-svc outbox replay`");
        } else if new_status == Status::Pending {
            tracing::info!(id = row.id, org = %row.org_id, attempts, status, error, "push to ops will be retried");
        }
        let next_at: DateTime<Utc> = if new_status == Status::Pending {
            next
        } else {
            now
        };
        let status = status.map(i64::from);
        outbox::record(
            conn, row.id, new_status, attempts, next_at, status, error, now,
        )
        .await?;
        Ok(())
    }

    /// Publishes the outbox gauges; returns the age of the oldest pending push in seconds.
    pub async fn report_outbox(&self) -> i64 {
        let Ok(mut c) = self.store.acquire().await else {
            return 0;
        };
        let Ok((pending, oldest, _dead)) = outbox::stats(&mut c.conn()).await else {
            return 0;
        };
        metrics::gauge!("outbox_pending").set(pending as f64);
        let age = oldest.map_or(0, |o| (self.clock.now() - o).num_seconds().max(0));
        metrics::gauge!("outbox_oldest_pending_age_seconds").set(age as f64);
        age
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_schedule_without_jitter() {
        let s = |n| backoff(n, Duration::from_secs(1), Duration::from_secs(60)).as_secs();
        let got: Vec<u64> = (1..=10).map(s).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        assert_eq!(s(1000), 60);
        assert_eq!(
            backoff(3, Duration::from_millis(100), Duration::from_secs(2)),
            Duration::from_millis(400)
        );
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        for _ in 0..1000 {
            let d = jittered(Duration::from_secs(10)).as_secs_f64();
            assert!((8.0..=12.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn answers_map_to_the_table() {
        assert_eq!(verdict(Some(200)), Verdict::Done(Status::Delivered));
        assert_eq!(verdict(Some(409)), Verdict::Done(Status::Superseded));
        for s in [404, 413, 415] {
            assert_eq!(verdict(Some(s)), Verdict::Done(Status::Dead));
        }
        assert_eq!(verdict(Some(401)), Verdict::RetryBriefly);
        assert_eq!(verdict(Some(400)), Verdict::RetryBriefly);
        for s in [Some(429), Some(500), Some(503), None] {
            assert_eq!(verdict(s), Verdict::Retry);
        }
    }
}
