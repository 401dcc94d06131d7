//! Shared start-up: configuration, logging, the data directory, the database and its schema.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use app::App;
use app::worker::{Backoff, WorkerConfig};
use domain::SystemClock;
use store::{Backend, MigrationState, Store};

use crate::config::{self, Loaded, Overrides};
use crate::error::CliError;

/// Loads configuration and installs logging.
pub fn configure(file: Option<&Path>, overrides: Overrides) -> Result<Loaded, CliError> {
    let loaded = config::load(file, overrides)?;
    crate::logging::init(&loaded.config.log);
    Ok(loaded)
}

/// Opens the database named by the configuration (creating the data directory first).
pub async fn connect(loaded: &Loaded) -> Result<Store, CliError> {
    loaded.prepare_data_dir()?;
    let url = loaded.database_url()?;
    // Fail on a missing key before touching (or migrating) the database.
    loaded.master_key()?;
    Store::connect(&url, &loaded.pool_options())
        .await
        .map_err(|e| {
            CliError::unavailable(
                format!(
                    "cannot open the database ({}) from `database_url`: {e}",
                    url.redacted()
                ),
                "check that PostgreSQL is running and DATABASE_URL is right",
            )
        })
}

/// Brings the schema to what this binary needs before serving: an empty database, or any
/// SQLite database (the embedded default upgrades in place), is migrated; a PostgreSQL
/// database with pending migrations must be migrated explicitly with `dev-health migrate`, so
/// that a rolling deploy never changes a shared schema behind other replicas' backs.
pub async fn ensure_schema(store: &Store) -> Result<(), CliError> {
    let status = store.migration_status().await?;
    match status.state {
        MigrationState::Current => Ok(()),
        MigrationState::Empty => migrate(store).await,
        MigrationState::Pending if store.backend() == Backend::Sqlite => migrate(store).await,
        MigrationState::Pending => Err(CliError::config(
            format!(
                "the database schema is behind this binary (pending migrations {:?})",
                status.pending
            ),
            "run `dev-health migrate` once, then start the servers",
        )),
        MigrationState::Ahead => {
            tracing::warn!(unknown = ?status.unknown, "the database has migrations newer than this binary");
            Ok(())
        }
        MigrationState::Broken => Err(CliError::config(
            format!(
                "migrations {:?} failed or were changed after they were applied",
                status.broken
            ),
            "restore the database from a backup or contact support; never edit applied migrations",
        )),
    }
}

async fn migrate(store: &Store) -> Result<(), CliError> {
    let applied = store.migrate().await?;
    tracing::info!(
        applied,
        backend = store.backend().as_str(),
        "database migrated"
    );
    Ok(())
}

/// The application over a ready database, after checking the permission tables.
pub async fn app(store: Store, loaded: &Loaded) -> Result<App, CliError> {
    if license::anchors::TEST_KEYS {
        tracing::warn!(
            "this build trusts the public TEST license keys (test-keys feature); never run it in production"
        );
    }
    let mut app = App::new(store, Arc::new(SystemClock), loaded.identity()?)
        .with_entitlements(loaded.entitlements());
    if let Some(key) = loaded.integration_key()? {
        app = app.with_integration_key(key);
    }
    match loaded.billing()? {
        Some(billing) => {
            app = app
                .with_billing(billing)
                .map_err(|e| CliError::config(e.to_string(), "check the [billing] settings"))?;
        }
        None if loaded.config.mode == config::Mode::Saas => tracing::warn!(
            "billing.license_svc_url is not set: the billing page and /api/v1/billing answer 503 billing_not_configured"
        ),
        None => {}
    }
    app.verify_catalogue().await?;
    Ok(app)
}

/// Worker settings from the configuration.
pub fn worker_config(loaded: &Loaded) -> WorkerConfig {
    let w = &loaded.config.worker;
    WorkerConfig {
        queue: w.queue.clone(),
        concurrency: w.concurrency,
        poll_interval: Duration::from_millis(w.poll_interval_ms),
        lease: Duration::from_secs(w.lease_secs),
        backoff: Backoff {
            base: Duration::from_millis(w.backoff_base_ms),
            max: Duration::from_millis(w.backoff_max_ms),
        },
        shutdown_grace: Duration::from_secs(w.shutdown_grace_secs),
    }
}
