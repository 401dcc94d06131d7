//! Sync runs for people and tokens (analytics spec §3.1, §14): the list and one run
//! (`analytics:read`), "Sync now" (`sync:run`: queues a run and its job in one transaction, or
//! returns the run already going), and the worker's `sync.git` job that runs it.

use chrono::{DateTime, Utc};
use domain::permission::marker::{AnalyticsRead, SyncRun as SyncRunPermission};
use domain::{IntegrationId, OrgId, RepoId, SyncRunId};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use store::analytics::integrations;
use store::analytics::repos::{self, Repo};
use store::analytics::sync_runs::{self, NewRun, SyncRun};
use store::jobs::NewJob;

use uuid::Uuid;

use super::git::GitSyncOptions;
use super::providers::{SYNC_PROVIDER_KIND, SyncProviderInput};
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

/// The job a "Sync now" (or the schedule) queues.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Queued {
    /// `sync.git` of a local repository.
    Git,
    /// `sync.provider` of a source kind (`repo`, `integration`) and dataset.
    Provider(&'static str, &'static str),
}

fn no_dataset(message: &str) -> AppError {
    AppError::new(ErrorKind::Invalid, "invalid_field", message.to_owned()).with("field", "dataset")
}

/// What a repository can sync: its commits from a local clone, or its provider's pull
/// requests (and GitHub issues, asked for as `issues` or `work_items`).
fn job_of_repo(repo: &Repo, dataset: &str) -> Result<Queued> {
    match (repo.provider.as_str(), dataset) {
        (_, "commits") => {
            if repo.local_path.is_none() {
                return Err(AppError::new(
                    ErrorKind::Invalid,
                    "no_local_path",
                    "This repository has no local path to sync.",
                ));
            }
            Ok(Queued::Git)
        }
        ("local", _) => Err(no_dataset(
            "dataset must be commits for a repository synced from git",
        )),
        ("github", "pull_requests") | ("gitlab", "pull_requests") => {
            Ok(Queued::Provider("repo", "pull_requests"))
        }
        ("github", "issues") | ("github", "work_items") => {
            Ok(Queued::Provider("repo", "work_items"))
        }
        ("github", _) => Err(no_dataset(
            "dataset must be pull_requests or issues for a GitHub repository",
        )),
        _ => Err(no_dataset(
            "dataset must be pull_requests for a GitLab repository",
        )),
    }
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

    /// "Sync now": queues a run of `dataset` for a source of the caller's org (a repository or
    /// a work-item integration) and its job, in one transaction, so a run is never queued
    /// without the job that runs it; `false` when a run was already queued or running (that
    /// run is returned). Local repositories sync `commits` (`sync.git`); hosted repositories
    /// `pull_requests` and, on GitHub, `work_items` (`issues`); Jira and Linear integrations
    /// `work_items` (`sync.provider`).
    pub async fn trigger_sync(
        &self,
        a: &Authorized<SyncRunPermission>,
        source_id: Uuid,
        dataset: &str,
    ) -> Result<(SyncRun, bool)> {
        let org = a.org_id()?;
        let now = self.clock().now();
        let mut tx = self.store().begin_write().await?;
        let repo = repos::get(&mut tx.conn(), org, RepoId::from_uuid(source_id)).await?;
        let job = match repo {
            Some(repo) => job_of_repo(&repo, dataset)?,
            None => {
                let id = IntegrationId::from_uuid(source_id);
                let i = integrations::get(&mut tx.conn(), org, id)
                    .await?
                    .ok_or_else(|| {
                        AppError::new(ErrorKind::NotFound, "not_found", "No such sync source.")
                    })?;
                if !matches!(i.provider.as_str(), "jira" | "linear") || dataset != "work_items" {
                    return Err(no_dataset(
                        "dataset must be work_items for a Jira or Linear integration",
                    ));
                }
                Queued::Provider("integration", "work_items")
            }
        };
        let queued = queue(&mut tx.conn(), org, source_id, job, "manual", now).await?;
        tx.commit().await?;
        Ok(queued)
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

/// Queues a run of `job` for `source_id` (`trigger`: `manual` or `schedule`) and the job that
/// runs it, on the caller's transaction; an already queued or running run is returned instead
/// (`false`).
pub(crate) async fn queue(
    conn: &mut store::Conn<'_>,
    org: OrgId,
    source_id: Uuid,
    job: Queued,
    trigger: &'static str,
    now: DateTime<Utc>,
) -> Result<(SyncRun, bool)> {
    let run_dataset = match job {
        Queued::Git => "commits",
        Queued::Provider(_, d) => d,
    };
    let (run, created) = sync_runs::create_or_existing(
        conn,
        org,
        NewRun {
            source_id,
            dataset: run_dataset,
            trigger,
            status: "queued",
        },
        now,
    )
    .await?;
    if created {
        let new_job = match job {
            Queued::Git => {
                let input = SyncGitInput {
                    org_id: org,
                    repo_id: RepoId::from_uuid(source_id),
                    run_id: run.id,
                };
                let payload = serde_json::to_value(&input).unwrap_or_default();
                NewJob::new(SYNC_GIT_KIND, payload)
            }
            Queued::Provider(source, dataset) => {
                // The handler takes over this queued run instead of opening another.
                let input = SyncProviderInput {
                    org_id: org,
                    source: source.to_owned(),
                    source_id,
                    dataset: dataset.to_owned(),
                };
                let payload = serde_json::to_value(&input).unwrap_or_default();
                NewJob {
                    org_id: Some(org),
                    ..NewJob::new(SYNC_PROVIDER_KIND, payload)
                }
            }
        };
        store::jobs::enqueue(conn, &new_job, now).await?;
    }
    Ok((run, created))
}

/// Queues a re-read of the work items a source syncs (a GitHub repository's issues, or a Jira
/// or Linear integration's items), as "Sync now" does.
pub(crate) async fn queue_work_items(
    conn: &mut store::Conn<'_>,
    org: OrgId,
    source: (Option<RepoId>, Option<IntegrationId>),
    now: DateTime<Utc>,
) -> Result<Option<(SyncRun, bool)>> {
    let (source_id, job) = match source {
        (Some(repo), _) => (repo.as_uuid(), Queued::Provider("repo", "work_items")),
        (None, Some(i)) => (i.as_uuid(), Queued::Provider("integration", "work_items")),
        (None, None) => return Ok(None),
    };
    queue(conn, org, source_id, job, "manual", now)
        .await
        .map(Some)
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
