//! Sync runs for people and tokens (analytics spec §3.1, §14): the list and one run
//! (`analytics:read`), "Sync now" (`sync:run`: queues a run and its job in one transaction, or
//! returns the run already going), and the worker's `sync.git` job that runs it.

use domain::permission::marker::{AnalyticsRead, SyncRun as SyncRunPermission};
use domain::{OrgId, RepoId, SyncRunId};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use store::analytics::repos;
use store::analytics::sync_runs::{self, NewRun, SyncRun};
use store::jobs::NewJob;

use super::git::GitSyncOptions;
use crate::authz::Authorized;
use crate::worker::{JobContext, JobError, JobHandler};
use crate::{App, AppError, ErrorKind, Result};

/// The job kind of a queued git sync.
pub const SYNC_GIT_KIND: &str = "sync.git";

/// The payload of a `sync.git` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncGitInput {
    /// The org.
    pub org_id: OrgId,
    /// The repository.
    pub repo_id: RepoId,
    /// The queued run.
    pub run_id: SyncRunId,
}

fn no_run() -> AppError {
    AppError::new(ErrorKind::NotFound, "not_found", "No such sync run.")
}

impl App {
    /// The org's runs, newest first (`status` and `since` filter; at most 500).
    pub async fn sync_runs(
        &self,
        a: &Authorized<AnalyticsRead>,
        status: Option<&str>,
        since: Option<chrono::DateTime<chrono::Utc>>,
        limit: u32,
    ) -> Result<Vec<SyncRun>> {
        const STATUSES: &[&str] = &[
            "queued",
            "running",
            "succeeded",
            "partial",
            "failed",
            "deferred",
            "canceled",
        ];
        if let Some(s) = status
            && !STATUSES.contains(&s)
        {
            return Err(AppError::new(
                ErrorKind::BadRequest,
                "invalid_field",
                format!("status must be one of {}", STATUSES.join(", ")),
            )
            .with("field", "status"));
        }
        let org = a.org_id()?;
        let mut c = self.store().acquire().await?;
        Ok(sync_runs::list(
            &mut c.conn(),
            org,
            status,
            since,
            i64::from(limit.clamp(1, 500)),
        )
        .await?)
    }

    /// One run of the caller's org (another org's id answers 404).
    pub async fn sync_run(&self, a: &Authorized<AnalyticsRead>, id: SyncRunId) -> Result<SyncRun> {
        let org = a.org_id()?;
        let mut c = self.store().acquire().await?;
        sync_runs::get(&mut c.conn(), org, id)
            .await?
            .ok_or_else(no_run)
    }

    /// "Sync now": queues a run of `dataset` for a repository of the caller's org and its job,
    /// in one transaction; `false` when a run was already queued or running (that run is
    /// returned).
    pub async fn trigger_sync(
        &self,
        a: &Authorized<SyncRunPermission>,
        source_id: RepoId,
        dataset: &str,
    ) -> Result<(SyncRun, bool)> {
        let org = a.org_id()?;
        if dataset != "commits" {
            return Err(AppError::new(
                ErrorKind::Invalid,
                "invalid_field",
                "dataset must be commits for a repository synced from git",
            )
            .with("field", "dataset"));
        }
        let now = self.clock().now();
        let mut tx = self.store().begin_write().await?;
        let repo = repos::get(&mut tx.conn(), org, source_id)
            .await?
            .ok_or_else(|| {
                AppError::new(ErrorKind::NotFound, "not_found", "No such repository.")
            })?;
        if repo.local_path.is_none() {
            return Err(AppError::new(
                ErrorKind::Invalid,
                "no_local_path",
                "This repository has no local path to sync.",
            ));
        }
        let source = source_id.as_uuid();
        let (run, created) = sync_runs::create_or_existing(
            &mut tx.conn(),
            org,
            NewRun {
                source_id: source,
                dataset,
                trigger: "manual",
                status: "queued",
            },
            now,
        )
        .await?;
        if created {
            let input = SyncGitInput {
                org_id: org,
                repo_id: source_id,
                run_id: run.id,
            };
            let payload = serde_json::to_value(&input).unwrap_or_default();
            store::jobs::enqueue(&mut tx.conn(), &NewJob::new(SYNC_GIT_KIND, payload), now).await?;
        }
        tx.commit().await?;
        Ok((run, created))
    }

    /// Runs a queued `sync.git` run (the worker's job).
    async fn run_queued_git_sync(&self, input: &SyncGitInput) -> Result<()> {
        let (repo, run) = {
            let mut c = self.store().acquire().await?;
            (
                repos::get(&mut c.conn(), input.org_id, input.repo_id).await?,
                sync_runs::get(&mut c.conn(), input.org_id, input.run_id).await?,
            )
        };
        let (Some(repo), Some(run)) = (repo, run) else {
            return Ok(());
        };
        if run.status != "queued" && run.status != "running" {
            return Ok(());
        }
        {
            let mut c = self.store().acquire().await?;
            sync_runs::start(&mut c.conn(), input.org_id, run.id, self.clock().now()).await?;
        }
        let opts = GitSyncOptions {
            trigger: "manual",
            ..GitSyncOptions::default()
        };
        self.run_git_sync(input.org_id, repo, run.id, &opts, &())
            .await?;
        Ok(())
    }
}

/// The worker's handler of `sync.git` jobs. A failed sync is recorded on its run; the job
/// itself fails only when the run could not be recorded, so it is retried then.
#[derive(Debug, Clone, Copy)]
pub struct SyncGitHandler;

impl JobHandler for SyncGitHandler {
    fn kind(&self) -> &'static str {
        SYNC_GIT_KIND
    }

    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<(), JobError>> {
        async move {
            let input: SyncGitInput = serde_json::from_value(ctx.job.payload.clone())
                .map_err(|e| JobError::Failed(format!("invalid sync.git payload: {e}")))?;
            match ctx.app.run_queued_git_sync(&input).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind == ErrorKind::Unavailable || e.kind == ErrorKind::Internal => {
                    Err(JobError::Failed(e.to_string()))
                }
                Err(_) => Ok(()),
            }
        }
        .boxed()
    }
}
