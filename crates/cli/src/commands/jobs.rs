//! `dev-health jobs …`: queue statistics, dead letters, one job's history, diagnostic probes.

use std::path::Path;

use app::worker::probe::ProbeInput;
use store::jobs::JobStatus;

use crate::cli::JobsCommand;
use crate::config::Overrides;
use crate::error::CliError;
use crate::{output, startup};

fn parse_status(s: &str) -> Result<JobStatus, CliError> {
    s.parse()
        .map_err(|e: String| CliError::failure(e, Some("run `dev-health jobs list --help`")))
}

pub async fn run(file: Option<&Path>, cmd: JobsCommand) -> Result<(), CliError> {
    let loaded = startup::configure(file, Overrides::default())?;
    let store = startup::connect(&loaded).await?;
    startup::ensure_schema(&store).await?;
    let app = startup::app(store.clone(), &loaded).await?;
    match cmd {
        JobsCommand::Stats => {
            let counts = app.job_counts().await?;
            if counts.is_empty() {
                output::line("no jobs");
            }
            for c in counts {
                output::line(format!("{:<12} {:<10} {}", c.queue, c.status, c.count));
            }
        }
        JobsCommand::List { status, limit } => {
            for job in app.jobs_in(parse_status(&status)?, limit).await? {
                output::line(format!(
                    "{} {} attempts {}/{} {}",
                    job.id,
                    job.kind,
                    job.attempts,
                    job.max_attempts,
                    job.last_error.unwrap_or_default()
                ));
            }
        }
        JobsCommand::Show { id } => {
            let id = id.parse().map_err(|e| {
                CliError::failure(
                    format!("{e}"),
                    Some("pass a job id from `dev-health jobs list`"),
                )
            })?;
            let Some((job, attempts)) = app.job(id).await? else {
                return Err(CliError::failure(format!("job {id} was not found"), None));
            };
            output::line(
                serde_json::to_string_pretty(
                    &serde_json::json!({ "job": job, "attempts": attempts }),
                )
                .unwrap_or_default(),
            );
        }
        JobsCommand::Probe {
            count,
            sleep_ms,
            fail,
            max_attempts,
        } => {
            let ids = app
                .enqueue_probes(count, &ProbeInput { sleep_ms, fail }, max_attempts)
                .await?;
            output::line(format!(
                "enqueued {} probe job(s); watch them with `dev-health jobs stats`",
                ids.len()
            ));
        }
    }
    store.close().await;
    Ok(())
}
