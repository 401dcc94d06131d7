//! Resuming deferred provider runs (analytics spec §3.3): a run deferred by a rate limit
//! queues a `sync.provider` job for its `resume_at`, in the transaction that records the
//! deferral, and the job runs the same sync, which continues from the stored checkpoint. A
//! source deferred 10 times within 24 hours fails with `rate_limited` instead of queueing an
//! 11th resumption.

use chrono::Duration;
use domain::{IntegrationId, OrgId, RepoId};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use store::analytics::sync_runs;
use store::jobs::NewJob;
use uuid::Uuid;

use super::{Done, Position, ProviderSyncOptions};
use crate::worker::{JobContext, JobError, JobHandler};
use crate::{App, AppError, ErrorKind, Result};

/// The job kind that runs (or resumes) a provider sync.
pub const SYNC_PROVIDER_KIND: &str = "sync.provider";

/// Deferrals of one source and dataset allowed within 24 hours.
const MAX_DEFERRALS: usize = 10;

/// The payload of a `sync.provider` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncProviderInput {
    /// The org.
    pub org_id: OrgId,
    /// `repo` or `integration`.
    pub source: String,
    /// The repository or integration id.
    pub source_id: Uuid,
    /// `pull_requests` or `work_items`.
    pub dataset: String,
}

impl App {
    /// A deferral past the limit becomes a failure (`rate_limited`); the checkpoint stays, so
    /// a later manual run still continues where the pass stopped.
    pub(super) async fn limit_deferrals(
        &self,
        org: OrgId,
        at: Position,
        result: Result<Done>,
    ) -> Result<Result<Done>> {
        let Ok(done) = &result else {
            return Ok(result);
        };
        if done.resume_at.is_none() {
            return Ok(result);
        }
        let since = self.clock().now() - Duration::hours(24);
        let mut c = self.store().acquire().await?;
        let recent = sync_runs::list(&mut c.conn(), org, Some("deferred"), Some(since), 500)
            .await?
            .into_iter()
            .filter(|r| r.source_id == at.source && r.dataset == at.dataset)
            .count();
        if recent >= MAX_DEFERRALS {
            return Ok(Err(AppError::new(
                ErrorKind::Unavailable,
                "rate_limited",
                format!(
                    "The provider rate-limited this sync {recent} times within 24 hours; \
                     it resumes from its checkpoint on the next run."
                ),
            )));
        }
        Ok(result)
    }

    /// Queues the resumption of a deferred run at its `resume_at` (deduplicated per source and
    /// dataset).
    pub(super) async fn queue_resume(
        &self,
        conn: &mut store::Conn<'_>,
        org: OrgId,
        at: Position,
        resume_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let input = SyncProviderInput {
            org_id: org,
            source: at.of.to_owned(),
            source_id: at.source,
            dataset: at.dataset.to_owned(),
        };
        let job = NewJob {
            org_id: Some(org),
            run_at: Some(resume_at),
            dedupe_key: Some(format!("sync:{}:{}", at.source, at.dataset)),
            ..NewJob::new(
                SYNC_PROVIDER_KIND,
                serde_json::to_value(&input).unwrap_or_default(),
            )
        };
        store::jobs::enqueue(conn, &job, self.clock().now()).await?;
        Ok(())
    }

    /// Runs a `sync.provider` job: the sync of its source and dataset, as a scheduled run.
    async fn run_provider_job(&self, input: &SyncProviderInput) -> Result<()> {
        let opts = ProviderSyncOptions {
            trigger: "schedule",
            ..ProviderSyncOptions::default()
        };
        let org = input.org_id;
        let outcome = match (input.source.as_str(), input.dataset.as_str()) {
            ("repo", "pull_requests") => {
                let repo = RepoId::from_uuid(input.source_id);
                self.sync_pull_requests(org, repo, &opts, &()).await
            }
            ("repo", "work_items") => {
                let repo = RepoId::from_uuid(input.source_id);
                self.sync_github_issues(org, repo, &opts, &()).await
            }
            ("integration", "work_items") => {
                let id = IntegrationId::from_uuid(input.source_id);
                self.sync_work_items(org, id, &opts, &()).await
            }
            _ => return Ok(()),
        };
        outcome.map(|_| ())
    }
}

/// The worker's handler of `sync.provider` jobs. A failed sync is recorded on its run; the job
/// itself fails only when storage did, so it is retried then.
#[derive(Debug, Clone, Copy)]
pub struct SyncProviderHandler;

impl JobHandler for SyncProviderHandler {
    fn kind(&self) -> &'static str {
        SYNC_PROVIDER_KIND
    }

    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<(), JobError>> {
        async move {
            let input: SyncProviderInput = serde_json::from_value(ctx.job.payload.clone())
                .map_err(|e| JobError::Failed(format!("invalid sync.provider payload: {e}")))?;
            match ctx.app.run_provider_job(&input).await {
                Ok(()) => Ok(()),
                Err(e) if matches!(e.code, "database_unavailable" | "internal_error") => {
                    Err(JobError::Failed(e.to_string()))
                }
                Err(_) => Ok(()),
            }
        }
        .boxed()
    }
}
