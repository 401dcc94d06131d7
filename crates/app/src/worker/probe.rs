//! `diagnostics.probe`: a job that sleeps, then succeeds or fails as its payload says.
//!
//! Operators use it to check that workers are running (`dev-health jobs probe`); the test suite
//! uses it to prove exactly-once execution across replicas, lease recovery after a killed worker
//! and dead-lettering.

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{JobContext, JobError, JobHandler};

/// The job kind.
pub const PROBE_KIND: &str = "diagnostics.probe";

/// Payload of a probe.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProbeInput {
    /// How long the job takes.
    #[serde(default)]
    pub sleep_ms: u64,
    /// When set, every attempt fails with this message.
    #[serde(default)]
    pub fail: Option<String>,
}

/// Runs probes.
#[derive(Debug, Clone, Copy)]
pub struct ProbeHandler;

impl JobHandler for ProbeHandler {
    fn kind(&self) -> &'static str {
        PROBE_KIND
    }

    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<(), JobError>> {
        async move {
            let input: ProbeInput = serde_json::from_value(ctx.job.payload.clone())
                .map_err(|e| JobError::Failed(format!("invalid probe payload: {e}")))?;
            // Sleeping is the probe's work: it is not interrupted by shutdown, so a graceful
            // stop shows that in-flight jobs finish.
            tokio::time::sleep(Duration::from_millis(input.sleep_ms)).await;
            match input.fail {
                Some(message) => Err(JobError::Failed(message)),
                None => Ok(()),
            }
        }
        .boxed()
    }
}
