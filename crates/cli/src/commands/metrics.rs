//! `dev-health metrics recompute --org ORG --from --to` (analytics spec §2.2 "Freshness"):
//! rebuilds `pr_metrics` and `work_item_facts` for a range in one transaction, for operators
//! after a fix or a configuration change; a spinner runs meanwhile and one line reports it.

use std::path::Path;
use std::time::Duration;

use indicatif::ProgressBar;

use crate::cli::MetricsCommand;
use crate::config::Overrides;
use crate::error::CliError;
use crate::output::line;
use crate::startup;

pub async fn run(file: Option<&Path>, cmd: MetricsCommand) -> Result<(), CliError> {
    let MetricsCommand::Recompute {
        org,
        from,
        to,
        json,
    } = cmd;
    let loaded = startup::configure(file, Overrides::default())?;
    let store = startup::connect(&loaded).await?;
    startup::ensure_schema(&store).await?;
    let app = startup::app(store, &loaded).await?;
    let org = super::sync_providers::org_of(&app, &org).await?;
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!("recomputing {from} … {to}"));
    spinner.enable_steady_tick(Duration::from_millis(200));
    let done = app.recompute_metrics(org, from, to).await;
    spinner.finish_and_clear();
    let done = done.map_err(|e| {
        let hint = (e.code == "invalid_range").then_some("give --from before --to");
        CliError::failure(e.message, hint)
    })?;
    if json {
        line(serde_json::to_string(&done).unwrap_or_default());
    } else {
        line(format!(
            "recomputed {} pull requests and {} work items in [{from}, {to})",
            done.pull_requests, done.work_items
        ));
    }
    Ok(())
}
