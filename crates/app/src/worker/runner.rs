//! The claim → run → heartbeat → record loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use store::jobs::{Claim, Job};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{JobContext, JobError, Registry, WorkerConfig};
use crate::App;

/// A job runner bound to one queue.
#[derive(Debug)]
pub struct Worker {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    app: App,
    registry: Registry,
    config: WorkerConfig,
    id: String,
}

enum Outcome {
    Done,
    Failed(String),
    Release,
    LeaseLost,
}

impl Worker {
    /// A runner with a unique id (`host:pid:random`), recorded on every attempt it makes.
    pub fn new(app: App, registry: Registry, config: WorkerConfig) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "host".to_owned());
        let id = format!(
            "{host}:{}:{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        Self {
            shared: Arc::new(Shared {
                app,
                registry,
                config,
                id,
            }),
        }
    }

    /// The id recorded as `lease_owner` and in `job_attempts.worker_id`.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// Runs until `shutdown` fires, then stops claiming, gives running jobs the grace period to
    /// finish, aborts and releases the rest, and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let s = &self.shared;
        tracing::info!(worker = %s.id, queue = %s.config.queue, concurrency = s.config.concurrency, "worker started");
        let abort = CancellationToken::new();
        let mut running: JoinSet<()> = JoinSet::new();
        while !shutdown.is_cancelled() {
            let free = s.config.concurrency.saturating_sub(running.len());
            let mut claimed = 0;
            if free > 0 {
                let claim = Claim {
                    queue: &s.config.queue,
                    worker_id: &s.id,
                    limit: u32::try_from(free).unwrap_or(u32::MAX),
                    lease: s.config.lease,
                };
                match s
                    .app
                    .store()
                    .jobs()
                    .claim(&claim, s.app.clock().now())
                    .await
                {
                    Ok(jobs) => {
                        claimed = jobs.len();
                        for job in jobs {
                            let shared = Arc::clone(&self.shared);
                            let (stop, abort) = (shutdown.clone(), abort.clone());
                            running.spawn(async move { run_one(shared, job, stop, abort).await });
                        }
                    }
                    Err(e) => tracing::warn!(worker = %s.id, error = %e, "claiming jobs failed"),
                }
            }
            if claimed > 0 && running.len() < s.config.concurrency {
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(s.config.poll_interval) => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
        }
        let in_flight = running.len();
        if in_flight > 0 {
            tracing::info!(worker = %s.id, in_flight, grace_s = s.config.shutdown_grace.as_secs_f64(), "waiting for running jobs");
            let deadline = tokio::time::sleep(s.config.shutdown_grace);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    next = running.join_next() => if next.is_none() { break },
                    () = &mut deadline => {
                        tracing::warn!(worker = %s.id, left = running.len(), "grace period over; releasing unfinished jobs");
                        abort.cancel();
                        break;
                    }
                }
            }
            while running.join_next().await.is_some() {}
        }
        tracing::info!(worker = %s.id, "worker stopped");
    }
}

async fn run_one(s: Arc<Shared>, job: Job, shutdown: CancellationToken, abort: CancellationToken) {
    let started = Instant::now();
    let (id, kind, attempt) = (job.id, job.kind.clone(), job.attempts);
    let outcome = match s.registry.get(&kind) {
        None => Outcome::Failed(format!("no handler is registered for job kind {kind:?}")),
        Some(handler) => {
            let mut task = tokio::spawn(handler.run(JobContext {
                app: s.app.clone(),
                job,
                shutdown,
            }));
            let period = (s.config.lease / 3).max(Duration::from_millis(100));
            let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                tokio::select! {
                    res = &mut task => break match res {
                        Ok(Ok(())) => Outcome::Done,
                        Ok(Err(JobError::Failed(m))) => Outcome::Failed(m),
                        Ok(Err(JobError::Interrupted)) => Outcome::Release,
                        Err(e) if e.is_panic() => Outcome::Failed("the job handler panicked".into()),
                        Err(_) => Outcome::Release,
                    },
                    _ = beat.tick() => {
                        match s.app.store().jobs().heartbeat(id, &s.id, s.config.lease, s.app.clock().now()).await {
                            Ok(true) => {}
                            Ok(false) => { task.abort(); break Outcome::LeaseLost }
                            Err(e) => tracing::warn!(job = %id, error = %e, "heartbeat failed"),
                        }
                    }
                    () = abort.cancelled() => { task.abort(); break Outcome::Release }
                }
            }
        }
    };
    let q = s.app.store().jobs();
    let now = s.app.clock().now();
    let (label, result) = match outcome {
        Outcome::Done => ("succeeded", q.complete(id, &s.id, now).await.map(|_| ())),
        Outcome::Failed(message) => {
            let retry_at = now + s.config.backoff.delay(attempt);
            tracing::warn!(job = %id, %kind, attempt, error = %message, "job attempt failed");
            (
                "failed",
                q.fail(id, &s.id, &message, retry_at, now).await.map(|_| ()),
            )
        }
        Outcome::Release => ("released", q.release(id, &s.id, now).await.map(|_| ())),
        Outcome::LeaseLost => {
            tracing::warn!(job = %id, %kind, "lease lost; another worker owns the job now");
            ("lease_lost", Ok(()))
        }
    };
    if let Err(e) = result {
        tracing::error!(job = %id, %kind, error = %e, "recording the job outcome failed; the lease will expire and the job run again");
    }
    metrics::counter!("dev_health_jobs_total", "kind" => kind.clone(), "outcome" => label)
        .increment(1);
    metrics::histogram!("dev_health_job_duration_seconds", "kind" => kind)
        .record(started.elapsed().as_secs_f64());
}
