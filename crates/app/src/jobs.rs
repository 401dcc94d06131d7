//! Queue inspection and the diagnostic probe job, for operators (`dev-health jobs …`).

use domain::JobId;
use store::jobs::{Job, JobAttempt, JobStatus, NewJob, QueueCount};

use crate::worker::probe::{PROBE_KIND, ProbeInput};
use crate::{App, Result};

impl App {
    /// Enqueues `count` probe jobs and returns their ids. A probe sleeps, then succeeds or fails
    /// as told; it checks end to end that workers are up and the queue works.
    pub async fn enqueue_probes(
        &self,
        count: u32,
        input: &ProbeInput,
        max_attempts: u32,
    ) -> Result<Vec<JobId>> {
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        // The handler's own input type is the payload's one definition.
        let payload = serde_json::to_value(input).unwrap_or_default();
        let mut ids = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let mut job = NewJob::new(PROBE_KIND, payload.clone());
            job.max_attempts = max_attempts;
            ids.push(store::jobs::enqueue(&mut tx.conn(), &job, now).await?.id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Jobs per queue and status.
    pub async fn job_counts(&self) -> Result<Vec<QueueCount>> {
        Ok(self.store().jobs().counts().await?)
    }

    /// Jobs in a status, oldest first.
    pub async fn jobs_in(&self, status: JobStatus, limit: u32) -> Result<Vec<Job>> {
        Ok(self.store().jobs().list(status, limit).await?)
    }

    /// One job and its attempts.
    pub async fn job(&self, id: JobId) -> Result<Option<(Job, Vec<JobAttempt>)>> {
        let q = self.store().jobs();
        let Some(job) = q.get(id).await? else {
            return Ok(None);
        };
        Ok(Some((job, q.attempts(id).await?)))
    }
}
