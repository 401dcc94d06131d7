//! The job runner: claims jobs from the durable queue, runs their handlers, keeps their leases
//! alive and records the outcome.
//!
//! `dev-health worker` runs one; `dev-health serve` runs one in-process unless `--no-worker`.
//! Any number of runners on any number of machines may share a PostgreSQL database: claiming is
//! exclusive (see `store::jobs`). On shutdown the runner stops claiming, lets running jobs
//! finish for a grace period, then aborts the rest and releases them for another worker.

mod backoff;
pub mod probe;
mod runner;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use store::jobs::Job;
use tokio_util::sync::CancellationToken;

pub use backoff::Backoff;
pub use runner::Worker;

/// Settings of a runner.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Queue to take jobs from.
    pub queue: String,
    /// Jobs run at the same time.
    pub concurrency: usize,
    /// Pause between claims when the queue is empty.
    pub poll_interval: Duration,
    /// Lease length; heartbeats renew it every third of it.
    pub lease: Duration,
    /// Retry delays after failures.
    pub backoff: Backoff,
    /// How long running jobs may take to finish after shutdown starts.
    pub shutdown_grace: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            queue: "default".into(),
            concurrency: 4,
            poll_interval: Duration::from_millis(500),
            lease: Duration::from_secs(60),
            backoff: Backoff::default(),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// Why a handler did not complete its job.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JobError {
    /// The attempt failed; the job is retried with backoff until its attempts are used.
    #[error("{0}")]
    Failed(String),
    /// The handler stopped because shutdown was requested; the job is released, not failed.
    #[error("interrupted by shutdown")]
    Interrupted,
}

/// What a handler gets: the job and a token that fires on shutdown.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The application (storage, keys, clock).
    pub app: crate::App,
    /// The claimed job (payload, attempt number, org).
    pub job: Job,
    /// Cancelled when the worker shuts down; long handlers should stop at a safe point and
    /// return [`JobError::Interrupted`].
    pub shutdown: CancellationToken,
}

/// Runs jobs of one kind. Handlers must be idempotent: a job can run again after a lost lease.
pub trait JobHandler: Send + Sync + 'static {
    /// The job kind this handler runs, e.g. `sync.git`.
    fn kind(&self) -> &'static str;

    /// Runs one attempt.
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<(), JobError>>;
}

/// Handlers by kind.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.handlers.keys()).finish()
    }
}

impl Registry {
    /// The handlers every runner has.
    pub fn builtin() -> Self {
        let mut r = Registry::default();
        r.register(probe::ProbeHandler);
        r.register(crate::identity::mail::MailHandler);
        r.register(crate::sync::runs::SyncGitHandler);
        r.register(crate::sync::providers::SyncProviderHandler);
        r
    }

    /// Adds a handler (replacing one of the same kind).
    pub fn register(&mut self, handler: impl JobHandler) {
        self.handlers.insert(handler.kind(), Arc::new(handler));
    }

    pub(crate) fn get(&self, kind: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(kind).cloned()
    }
}
