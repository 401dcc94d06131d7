//! Embedded migrations, one folder per backend, and the migration status used by `/readyz`.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::migrate::Migrator;

use crate::{Backend, Result, Store, StoreError, on_conn};

static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static LICENSE_SVC_POSTGRES: Migrator = sqlx::migrate!("./migrations/license-svc/postgres");
static LICENSE_SVC_SQLITE: Migrator = sqlx::migrate!("./migrations/license-svc/sqlite");

/// Which of the two products' schemas a database holds. Each lives in its own database; the
/// license service's versions start at 1001, so a license-svc database opened as ops (or the
/// reverse) reports unknown versions (`ahead`) instead of being migrated into a mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// The dev-health server and worker.
    Ops,
    /// `dev-health license-svc` (billing spec §4).
    LicenseSvc,
}

/// Summary of the schema state of a database compared with this binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    /// No migration was ever applied.
    Empty,
    /// Every embedded migration is applied and nothing else is.
    Current,
    /// Some embedded migrations are not applied yet: run `dev-health migrate`.
    Pending,
    /// The database has migrations this binary does not know (a newer version ran).
    Ahead,
    /// A migration failed half-way or was edited after it was applied.
    Broken,
}

/// Applied versus embedded migrations.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationStatus {
    /// The overall state.
    pub state: MigrationState,
    /// Number of migrations compiled into this binary.
    pub embedded: usize,
    /// Number of migrations recorded as applied.
    pub applied: usize,
    /// Versions embedded but not applied.
    pub pending: Vec<i64>,
    /// Versions applied but unknown to this binary.
    pub unknown: Vec<i64>,
    /// Versions that failed or whose checksum differs from the embedded file.
    pub broken: Vec<i64>,
}

impl MigrationStatus {
    /// Whether the schema is exactly what this binary expects.
    pub fn is_current(&self) -> bool {
        self.state == MigrationState::Current
    }
}

/// The migrator of a schema on a backend.
fn migrator(backend: Backend, schema: Schema) -> &'static Migrator {
    match (schema, backend) {
        (Schema::Ops, Backend::Postgres) => &POSTGRES,
        (Schema::Ops, Backend::Sqlite) => &SQLITE,
        (Schema::LicenseSvc, Backend::Postgres) => &LICENSE_SVC_POSTGRES,
        (Schema::LicenseSvc, Backend::Sqlite) => &LICENSE_SVC_SQLITE,
    }
}

/// `(version, description)` of every embedded migration of a schema on a backend, in order.
pub fn embedded(backend: Backend, schema: Schema) -> Vec<(i64, String)> {
    migrator(backend, schema)
        .iter()
        .map(|m| (m.version, m.description.to_string()))
        .collect()
}

impl Store {
    /// Applies every pending migration (concurrent migrators are serialized by a lock) and
    /// returns how many were applied. Running it again applies nothing.
    pub async fn migrate(&self) -> Result<usize> {
        self.migrate_schema(Schema::Ops).await
    }

    /// [`Store::migrate`] for either schema.
    pub async fn migrate_schema(&self, schema: Schema) -> Result<usize> {
        let before = self.schema_status(schema).await?;
        if before.state == MigrationState::Broken {
            return Err(StoreError::SchemaMismatch(format!(
                "migrations {:?} failed or were changed after they were applied",
                before.broken
            )));
        }
        if before.state == MigrationState::Ahead {
            return Err(StoreError::SchemaMismatch(format!(
                "the database holds migrations {:?} this binary does not know: a newer version, \
                 or the other service's database",
                before.unknown
            )));
        }
        let m = migrator(self.backend(), schema);
        match (self.pg_pool(), self.sqlite_pool()) {
            (Some(p), _) => m.run(p).await?,
            (_, Some(p)) => m.run(p).await?,
            _ => unreachable!("a store always has exactly one pool"),
        }
        let after = self.schema_status(schema).await?;
        Ok(after.applied.saturating_sub(before.applied))
    }

    /// Compares the `_sqlx_migrations` table with the embedded migrations.
    pub async fn migration_status(&self) -> Result<MigrationStatus> {
        self.schema_status(Schema::Ops).await
    }

    /// [`Store::migration_status`] for either schema.
    pub async fn schema_status(&self, schema: Schema) -> Result<MigrationStatus> {
        let backend = self.backend();
        let mut c = self.acquire().await?;
        let exists_sql = match backend {
            Backend::Postgres => "SELECT to_regclass('_sqlx_migrations') IS NOT NULL",
            Backend::Sqlite => {
                "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
        };
        let exists: bool =
            on_conn!(&mut c.conn(), c => sqlx::query_scalar(exists_sql).fetch_one(&mut *c).await)?;
        let applied: Vec<(i64, bool, Vec<u8>)> = if exists {
            on_conn!(&mut c.conn(), c => sqlx::query_as(
                "SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version"
            ).fetch_all(&mut *c).await)?
        } else {
            Vec::new()
        };
        let embedded: BTreeMap<i64, &[u8]> = migrator(backend, schema)
            .iter()
            .map(|m| (m.version, m.checksum.as_ref()))
            .collect();
        let mut status = MigrationStatus {
            state: MigrationState::Current,
            embedded: embedded.len(),
            applied: applied.len(),
            pending: Vec::new(),
            unknown: Vec::new(),
            broken: Vec::new(),
        };
        let applied_versions: BTreeMap<i64, (bool, &[u8])> = applied
            .iter()
            .map(|(v, ok, sum)| (*v, (*ok, sum.as_slice())))
            .collect();
        for (&version, &sum) in &embedded {
            match applied_versions.get(&version) {
                None => status.pending.push(version),
                Some((ok, applied_sum)) if !ok || *applied_sum != sum => {
                    status.broken.push(version)
                }
                Some(_) => {}
            }
        }
        status.unknown = applied_versions
            .keys()
            .filter(|v| !embedded.contains_key(v))
            .copied()
            .collect();
        status.state = if !status.broken.is_empty() {
            MigrationState::Broken
        } else if applied.is_empty() {
            MigrationState::Empty
        } else if !status.unknown.is_empty() {
            MigrationState::Ahead
        } else if !status.pending.is_empty() {
            MigrationState::Pending
        } else {
            MigrationState::Current
        };
        Ok(status)
    }
}
