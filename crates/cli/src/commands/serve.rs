//! `dev-health serve`: the ops server, with an in-process worker unless `--no-worker`.

use std::path::Path;
use std::time::Duration;

use app::worker::{Registry, Worker};
use server::ServerConfig;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::config::Overrides;
use crate::error::CliError;
use crate::{output, shutdown, startup};

pub async fn run(file: Option<&Path>, args: ServeArgs) -> Result<(), CliError> {
    let loaded = startup::configure(
        file,
        Overrides {
            bind: args.bind.clone(),
        },
    )?;
    let addr = loaded.bind_addr()?;
    let store = startup::connect(&loaded).await?;
    startup::ensure_schema(&store).await?;
    let app = startup::app(store.clone(), &loaded).await?;

    let listener = TcpListener::bind(addr).await.map_err(|e| {
        CliError::config(
            format!(
                "cannot listen on {addr} (`server.bind`, from {}): {e}",
                loaded.source_of("server.bind")
            ),
            "stop the process that uses this port, or choose another address with --bind",
        )
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::failure(e.to_string(), None))?;

    let c = &loaded.config;
    let config = ServerConfig {
        public_url: loaded.public_url(),
        body_limit_bytes: c.server.body_limit_bytes,
        request_timeout: Duration::from_secs(c.server.request_timeout_secs),
        mode: c.mode.as_str().into(),
        proxies: loaded.proxy_trust()?,
    };
    let (router, _) = server::build(app.clone(), config);
    let stop = shutdown::on_signal();
    shutdown::reload_license_on_hangup(app.clone(), stop.clone());
    let entitlements = {
        let app = app.clone();
        let stop = stop.clone();
        tokio::spawn(async move { app.run_entitlements(stop).await })
    };
    let worker = (!args.no_worker).then(|| {
        let worker = Worker::new(
            app.clone(),
            Registry::builtin(),
            startup::worker_config(&loaded),
        );
        tokio::spawn(worker.run(stop.clone()))
    });
    // Worker processes run the schedule; with --no-worker, `dev-health worker` processes do.
    let schedule = (!args.no_worker && c.worker.sync_schedule).then(|| {
        let app = app.clone();
        let stop = stop.clone();
        tokio::spawn(async move { app.run_sync_schedule(stop).await })
    });

    tracing::info!(address = %local, backend = app.backend(), worker = !args.no_worker, "serving");
    output::line(format!("dev-health listening on http://{local}"));

    let mut serving = tokio::spawn(server::serve(listener, router, stop.clone()));
    let early = tokio::select! {
        result = &mut serving => Some(result),
        () = stop.cancelled() => None,
    };
    // The server also ends when the shutdown token fires; only an end without it is a failure.
    if let Some(result) = early.filter(|_| !stop.is_cancelled()) {
        stop.cancel();
        let message = match result {
            Ok(Ok(())) => "the server stopped unexpectedly".to_owned(),
            Ok(Err(e)) => format!("the server failed: {e}"),
            Err(e) => format!("the server task failed: {e}"),
        };
        return Err(CliError::failure(message, None));
    }
    let grace = Duration::from_secs(c.server.shutdown_grace_secs);
    if !serving.is_finished() && tokio::time::timeout(grace, &mut serving).await.is_err() {
        tracing::warn!(
            grace_s = grace.as_secs(),
            "in-flight requests did not finish in time"
        );
        serving.abort();
    }
    if let Some(schedule) = schedule {
        let _ = schedule.await;
    }
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    let _ = entitlements.await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}
