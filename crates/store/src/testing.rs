//! Test helpers: a fresh database per test on either backend.
//!
//! PostgreSQL tests create a uniquely named database on the server named by `TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`) and drop it when the [`TestDb`] is
//! dropped. They fail, never skip, when no server answers: the test command starts one.

use std::path::PathBuf;

use crate::{Backend, DatabaseUrl, PoolOptions, Store, on_conn};

/// Environment variable naming the PostgreSQL server used by tests (an admin URL).
pub const POSTGRES_ENV: &str = "TEST_POSTGRES_URL";

/// The admin URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var(POSTGRES_ENV)
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh, private database.
pub struct TestDb {
    /// An open, migrated (unless created with [`TestDb::empty`]) store.
    pub store: Store,
    url: String,
    backend: Backend,
    dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// A fresh, migrated database.
    pub async fn new(backend: Backend) -> TestDb {
        let db = TestDb::empty(backend).await;
        db.store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("migrating the test database: {e}"));
        db
    }

    /// A fresh database migrated to the license service's schema.
    pub async fn license_svc(backend: Backend) -> TestDb {
        let db = TestDb::empty(backend).await;
        db.store
            .migrate_schema(crate::Schema::LicenseSvc)
            .await
            .unwrap_or_else(|e| panic!("migrating the test database: {e}"));
        db
    }

    /// A fresh database with no schema.
    pub async fn empty(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
                let path: PathBuf = dir.path().join("test.db");
                let url = format!("sqlite://{}", path.display());
                let store = connect(&url).await;
                TestDb {
                    store,
                    url,
                    backend,
                    dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("dh_test_{}", uuid::Uuid::now_v7().simple());
                let admin_store = connect(&admin).await;
                let mut c = admin_store
                    .acquire()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                on_conn!(&mut c.conn(), c => sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut *c).await.map(|_| ()))
                .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
                drop(c);
                admin_store.close().await;
                let url = replace_database(&admin, &name);
                let store = connect(&url).await;
                TestDb {
                    store,
                    url,
                    backend,
                    dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// The full URL (with any password) for handing to a child process.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The backend of this database.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The temporary directory holding a SQLite database (usable as a data dir).
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(|d| d.path())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime: use a private runtime on a plain thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                let Ok(url) = DatabaseUrl::parse(&postgres_admin_url()) else { return };
                let Ok(admin) = Store::connect(&url, &PoolOptions::default()).await else { return };
                if let Ok(mut c) = admin.acquire().await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = on_conn!(&mut c.conn(), c => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *c).await.map(|_| ()));
                }
                admin.close().await;
            });
        })
        .join();
    }
}

async fn connect(url: &str) -> Store {
    let parsed = DatabaseUrl::parse(url).unwrap_or_else(|e| panic!("{e}"));
    let opts = PoolOptions {
        max_connections: 8,
        ..PoolOptions::default()
    };
    Store::connect(&parsed, &opts)
        .await
        .unwrap_or_else(|e| panic!("{e} (is PostgreSQL running? set {POSTGRES_ENV})"))
}

/// `postgres://u@h:p/olddb?x` with the database replaced by `name`.
fn replace_database(admin: &str, name: &str) -> String {
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let host = rest.split('/').next().unwrap_or(rest);
    match query {
        Some(q) => format!("{scheme}://{host}/{name}?{q}"),
        None => format!("{scheme}://{host}/{name}"),
    }
}

/// Declares each `async fn name(db: &TestDb) { … }` twice: as `name::sqlite` and `name::postgres`,
/// each with its own fresh, migrated database. One repository test suite, both backends.
#[macro_export]
macro_rules! backend_tests {
    ($( $(#[$meta:meta])* async fn $name:ident($db:ident : &TestDb) $body:block )+) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testing::TestDb::new($crate::Backend::Sqlite).await;
                let $db = &db;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = $crate::testing::TestDb::new($crate::Backend::Postgres).await;
                let $db = &db;
                $body
            }
        }
    )+};
}
