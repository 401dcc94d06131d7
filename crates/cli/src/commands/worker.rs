//! `dev-health worker`: a job runner without the HTTP server.

use std::path::Path;

use app::worker::{Registry, Worker};

use crate::config::Overrides;
use crate::error::CliError;
use crate::{shutdown, startup};

pub async fn run(file: Option<&Path>) -> Result<(), CliError> {
    let loaded = startup::configure(file, Overrides::default())?;
    let store = startup::connect(&loaded).await?;
    startup::ensure_schema(&store).await?;
    let app = startup::app(store.clone(), &loaded).await?;
    let stop = shutdown::on_signal();
    // Jobs pass the same gates as requests, so the worker keeps its snapshots current too.
    shutdown::reload_license_on_hangup(app.clone(), stop.clone());
    let entitlements = {
        let app = app.clone();
        let stop = stop.clone();
        tokio::spawn(async move { app.run_entitlements(stop).await })
    };
    let schedule = loaded.config.worker.sync_schedule.then(|| {
        let app = app.clone();
        let stop = stop.clone();
        tokio::spawn(async move { app.run_sync_schedule(stop).await })
    });
    let worker = Worker::new(app, Registry::builtin(), startup::worker_config(&loaded));
    worker.run(stop).await;
    let _ = entitlements.await;
    if let Some(s) = schedule {
        let _ = s.await;
    }
    store.close().await;
    Ok(())
}
