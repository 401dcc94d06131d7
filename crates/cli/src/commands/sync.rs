//! `dev-health sync git PATH --org ORG`: registers a local repository on first use and syncs
//! its commits as a recorded run, with a progress bar (commits/s) on a terminal and a one-line
//! summary.

use std::path::Path;
use std::time::{Duration, Instant};

use app::sync::{GitSyncOptions, GitSyncSummary, Progress, ProgressSink};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::SyncCommand;
use crate::config::Overrides;
use crate::error::CliError;
use crate::output::line;
use crate::startup;

/// Draws sync progress; hidden when stderr is not a terminal. Shared by `sync git` and the
/// provider syncs (`sync github|gitlab|work-items`).
pub(super) struct Bar(ProgressBar);

impl Bar {
    /// A spinner that turns into a bar once a phase knows its total.
    pub(super) fn start() -> Bar {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar(bar)
    }

    /// Removes the bar so the summary line stands alone.
    pub(super) fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl ProgressSink for Bar {
    fn report(&self, p: &Progress) {
        if let Some(total) = p.total {
            self.0.set_length(total);
        }
        self.0.set_position(p.done);
        self.0
            .set_message(format!("{} ({:.0} {}/s)", p.phase, p.rate_per_s, p.unit));
    }
}

pub async fn run(file: Option<&Path>, cmd: SyncCommand) -> Result<(), CliError> {
    let loaded = startup::configure(file, Overrides::default())?;
    let store = startup::connect(&loaded).await?;
    startup::ensure_schema(&store).await?;
    let app = startup::app(store, &loaded).await?;
    match cmd {
        SyncCommand::Github(a) => super::sync_providers::github(&app, a).await,
        SyncCommand::Gitlab(a) => super::sync_providers::gitlab(&app, a).await,
        SyncCommand::WorkItems(a) => super::sync_providers::work_items(&app, a).await,
        SyncCommand::Git {
            path,
            org,
            branch,
            since,
            json,
        } => {
            let org = super::sync_providers::org_of(&app, &org).await?;
            let repo = app.register_local_repo(org, &path).await.map_err(|e| {
                CliError::failure(e.message, Some("give the path of a git repository"))
            })?;
            let bar = Bar::start();
            let started = Instant::now();
            let opts = GitSyncOptions {
                branch,
                since,
                ..GitSyncOptions::default()
            };
            let result = app.sync_git_repo(org, repo, &opts, &bar).await;
            bar.finish();
            let s = result.map_err(|e| {
                let hint = match e.code {
                    "ref_not_found" => Some("pass --branch with an existing branch"),
                    "not_a_repository" => Some("give the path of a git repository"),
                    _ => None,
                };
                CliError::failure(e.message, hint)
            })?;
            if json {
                line(serde_json::to_string(&s).unwrap_or_default());
            } else {
                line(summary(&s, started.elapsed()));
            }
            Ok(())
        }
    }
}

fn summary(s: &GitSyncSummary, took: Duration) -> String {
    if s.already_running {
        return format!(
            "a sync of this repository is already {} (run {})",
            s.status, s.run_id
        );
    }
    let secs = took.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = if secs > 0.0 {
        s.commits as f64 / secs
    } else {
        0.0
    };
    let short = s.tip.get(..12).unwrap_or(&s.tip);
    format!(
        "{status}: {commits} new commits ({merges} merges, {files} file changes) from {r} at {short} \
         in {secs:.1} s ({rate:.0} commits/s), run {run}",
        status = s.status,
        commits = s.commits,
        merges = s.merges,
        files = s.files,
        r = s.ref_name,
        run = s.run_id,
    )
}
