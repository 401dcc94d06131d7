//! `dev-health migrate`: apply pending migrations; a no-op when the schema is current.

use std::path::Path;

use crate::config::Overrides;
use crate::error::CliError;
use crate::{output, startup};

pub async fn run(file: Option<&Path>) -> Result<(), CliError> {
    let loaded = startup::configure(file, Overrides::default())?;
    let store = startup::connect(&loaded).await?;
    let applied = store.migrate().await?;
    let status = store.migration_status().await?;
    let url = store.url().redacted();
    if applied == 0 {
        output::line(format!(
            "{url}: schema is current ({} migrations); nothing to apply",
            status.applied
        ));
    } else {
        output::line(format!(
            "{url}: applied {applied} migration(s); schema is current ({} migrations)",
            status.applied
        ));
    }
    store.close().await;
    Ok(())
}
