//! Scheduled syncs (analytics spec §3.1 "worker schedule", §2.1 `sync_interval_min`): every
//! worker process checks once a minute which sources are due and queues their runs as "Sync
//! now" does, with trigger `schedule`. A source is due when it has no run yet, or its latest
//! run is finished and was created at least its interval ago (the integration's
//! `sync_interval_min`; 60 minutes for local repositories). A queued, running or deferred
//! run (whose resumption is already queued) is left alone. Several workers may tick at once:
//! a run is queued at most once per source and dataset (migration 0006), so the second one
//! gets the first one's run.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::OrgId;
use store::analytics::sync_runs::{self, SyncRun};
use store::analytics::{integrations, repos};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::runs::{Queued, queue};
use crate::{App, Result};

/// How often a worker looks for due sources.
pub const SCHEDULE_TICK: Duration = Duration::from_secs(60);

/// The interval of local repositories, which have no integration to carry one.
const LOCAL_INTERVAL_MIN: i64 = 60;

/// One thing the schedule may sync.
struct Candidate {
    source: Uuid,
    job: Queued,
    dataset: &'static str,
    interval_min: i64,
}

fn is_due(latest: Option<&SyncRun>, interval_min: i64, now: DateTime<Utc>) -> bool {
    match latest {
        None => true,
        Some(r) if matches!(r.status.as_str(), "queued" | "running" | "deferred") => false,
        Some(r) => r.created_at + chrono::Duration::minutes(interval_min) <= now,
    }
}

impl App {
    /// Ticks until `stop`: queues the due runs once a minute (the worker's schedule).
    pub async fn run_sync_schedule(&self, stop: CancellationToken) {
        // The first look is a minute after start, not during it.
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + SCHEDULE_TICK, SCHEDULE_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.schedule_due_syncs(self.clock().now()).await {
                tracing::warn!(error = %e, "sync schedule: could not queue due runs");
            }
        }
    }

    /// Queues a run for every source due at `now`; returns the runs it queued.
    pub async fn schedule_due_syncs(&self, now: DateTime<Utc>) -> Result<Vec<SyncRun>> {
        let orgs = {
            let mut c = self.store().acquire().await?;
            repos::orgs_with_sources(&mut c.conn()).await?
        };
        let mut queued = Vec::new();
        for org in orgs {
            queued.extend(self.schedule_org(org, now).await?);
        }
        Ok(queued)
    }

    async fn schedule_org(&self, org: OrgId, now: DateTime<Utc>) -> Result<Vec<SyncRun>> {
        let mut c = self.store().acquire().await?;
        let integrations: HashMap<_, _> = integrations::list(&mut c.conn(), org)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        let mut candidates = Vec::new();
        for r in repos::list(&mut c.conn(), org).await? {
            if !r.is_active {
                continue;
            }
            let source = r.id.as_uuid();
            if r.provider == "local" {
                if r.local_path.is_some() {
                    candidates.push(Candidate {
                        source,
                        job: Queued::Git,
                        dataset: "commits",
                        interval_min: LOCAL_INTERVAL_MIN,
                    });
                }
                continue;
            }
            let Some(i) = r.integration_id.and_then(|id| integrations.get(&id)) else {
                continue;
            };
            if !i.enabled {
                continue;
            }
            candidates.push(Candidate {
                source,
                job: Queued::Provider("repo", "pull_requests"),
                dataset: "pull_requests",
                interval_min: i.sync_interval_min,
            });
            // GitHub issues are synced on a schedule once someone synced them.
            if r.provider == "github"
                && sync_runs::latest_for_source(&mut c.conn(), org, source, "work_items")
                    .await?
                    .is_some()
            {
                candidates.push(Candidate {
                    source,
                    job: Queued::Provider("repo", "work_items"),
                    dataset: "work_items",
                    interval_min: i.sync_interval_min,
                });
            }
        }
        for i in integrations.values() {
            if i.enabled && matches!(i.provider.as_str(), "jira" | "linear") {
                candidates.push(Candidate {
                    source: i.id.as_uuid(),
                    job: Queued::Provider("integration", "work_items"),
                    dataset: "work_items",
                    interval_min: i.sync_interval_min,
                });
            }
        }
        let mut due = Vec::new();
        for cand in candidates {
            let latest =
                sync_runs::latest_for_source(&mut c.conn(), org, cand.source, cand.dataset).await?;
            if is_due(latest.as_ref(), cand.interval_min, now) {
                due.push(cand);
            }
        }
        drop(c);
        let mut queued = Vec::new();
        for cand in due {
            // A run that appeared since the check is returned instead of a second one.
            let mut tx = self.store().begin_write().await?;
            let (run, created) =
                queue(&mut tx.conn(), org, cand.source, cand.job, "schedule", now).await?;
            tx.commit().await?;
            if created {
                queued.push(run);
            }
        }
        Ok(queued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: &str, created_at: DateTime<Utc>) -> SyncRun {
        SyncRun {
            id: domain::SyncRunId::new(),
            source_id: Uuid::nil(),
            dataset: "pull_requests".into(),
            trigger: "schedule".into(),
            status: status.into(),
            started_at: None,
            finished_at: None,
            progress: None,
            counts: None,
            rate_limit_wait_s: 0,
            resume_at: None,
            error_code: None,
            error_message: None,
            created_at,
        }
    }

    #[test]
    fn a_source_is_due_after_its_interval_unless_a_run_is_active() {
        let t = DateTime::parse_from_rfc3339("2024-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let m = chrono::Duration::minutes;
        assert!(is_due(None, 60, t), "never synced");
        assert!(!is_due(Some(&run("succeeded", t - m(59))), 60, t));
        assert!(is_due(Some(&run("succeeded", t - m(60))), 60, t));
        assert!(
            is_due(Some(&run("failed", t - m(15))), 15, t),
            "a failure retries on schedule"
        );
        for active in ["queued", "running", "deferred"] {
            assert!(!is_due(Some(&run(active, t - m(600))), 60, t), "{active}");
        }
    }
}
