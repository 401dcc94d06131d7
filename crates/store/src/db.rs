//! Connecting by URL and the backend-neutral connection, pool and transaction handles.

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};

use crate::{DatabaseUrl, Result, StoreError};

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// The production backend; several replicas may share it.
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Maximum number of open connections.
    pub max_connections: u32,
    /// How long to wait for a free connection (and, on SQLite, for a lock) before failing.
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
enum Pools {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A connection pool on either backend. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
    url: std::sync::Arc<DatabaseUrl>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("url", &self.url).finish()
    }
}

/// A borrowed native connection of either backend; repository functions take `&mut Conn`.
pub enum Conn<'c> {
    /// A PostgreSQL connection.
    Postgres(&'c mut PgConnection),
    /// A SQLite connection.
    Sqlite(&'c mut SqliteConnection),
}

/// A connection checked out of the pool.
pub enum PooledConn {
    /// A PostgreSQL connection.
    Postgres(PoolConnection<Postgres>),
    /// A SQLite connection.
    Sqlite(PoolConnection<Sqlite>),
}

/// An open transaction; dropped without [`Tx::commit`] it rolls back.
pub enum Tx {
    /// A PostgreSQL transaction.
    Postgres(Transaction<'static, Postgres>),
    /// A SQLite transaction.
    Sqlite(Transaction<'static, Sqlite>),
}

/// Runs the same query code on whichever backend a [`Conn`] holds.
///
/// `on_conn!(conn, c => store::sqlx::query("…").execute(&mut *c).await)`, with `conn: &mut Conn`,
/// expands the body once
/// per backend, so one SQL text and one set of binds serve both; the portable types of this
/// crate ([`Id`](crate::Id), [`Ts`](crate::Ts), [`JsonText`](crate::JsonText)) encode natively on each.
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::Conn::Postgres(conn) => {
                let $c: &mut $crate::sqlx::PgConnection = &mut **conn;
                $body
            }
            $crate::Conn::Sqlite(conn) => {
                let $c: &mut $crate::sqlx::SqliteConnection = &mut **conn;
                $body
            }
        }
    };
}

impl Store {
    /// Opens a pool for `url`. A SQLite file is created if missing (its directory must exist) and
    /// runs in WAL mode with foreign keys on, `synchronous=NORMAL` and a busy timeout.
    pub async fn connect(url: &DatabaseUrl, opts: &PoolOptions) -> Result<Store> {
        let connect_err = |source| StoreError::Connect {
            url: url.redacted(),
            source,
        };
        let pools = match url {
            DatabaseUrl::Sqlite(path) => {
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(opts.acquire_timeout);
                let pool = SqlitePoolOptions::new()
                    .max_connections(opts.max_connections)
                    .acquire_timeout(opts.acquire_timeout)
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Pools::Sqlite(pool)
            }
            DatabaseUrl::Postgres(raw) => {
                let options = PgConnectOptions::from_str(raw).map_err(connect_err)?;
                let pool = PgPoolOptions::new()
                    .max_connections(opts.max_connections)
                    .acquire_timeout(opts.acquire_timeout)
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Pools::Postgres(pool)
            }
        };
        Ok(Store {
            pools,
            url: std::sync::Arc::new(url.clone()),
        })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Postgres(_) => Backend::Postgres,
            Pools::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The URL this store was opened with (print it with `redacted()`).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Checks out a connection.
    pub async fn acquire(&self) -> Result<PooledConn> {
        Ok(match &self.pools {
            Pools::Postgres(p) => PooledConn::Postgres(p.acquire().await?),
            Pools::Sqlite(p) => PooledConn::Sqlite(p.acquire().await?),
        })
    }

    /// Begins a transaction. On SQLite it is deferred: use [`Store::begin_write`] when the
    /// transaction reads before it writes.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match &self.pools {
            Pools::Postgres(p) => Tx::Postgres(p.begin().await?),
            Pools::Sqlite(p) => Tx::Sqlite(p.begin().await?),
        })
    }

    /// Begins a transaction that takes the write lock up front (SQLite `BEGIN IMMEDIATE`), so a
    /// read-check-write sequence cannot be interleaved with another writer. On PostgreSQL it is a
    /// plain `BEGIN`; callers lock rows with `FOR UPDATE` there.
    pub async fn begin_write(&self) -> Result<Tx> {
        Ok(match &self.pools {
            Pools::Postgres(p) => Tx::Postgres(p.begin().await?),
            Pools::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// Round-trips a trivial query: the readiness probe.
    pub async fn ping(&self) -> Result<()> {
        let mut c = self.acquire().await?;
        on_conn!(&mut c.conn(), c => sqlx::query("SELECT 1").execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    /// Closes every connection; waits for checked-out connections to come back.
    pub async fn close(&self) {
        match &self.pools {
            Pools::Postgres(p) => p.close().await,
            Pools::Sqlite(p) => p.close().await,
        }
    }

    /// Opens a `LISTEN` connection on `channel`; `None` on SQLite, which has no such thing.
    /// The listener reconnects by itself; [`Listener::recv`] reports a lost connection first.
    pub async fn listen(&self, channel: &str) -> Result<Option<Listener>> {
        let Some(pool) = self.pg_pool() else {
            return Ok(None);
        };
        let mut inner = sqlx::postgres::PgListener::connect_with(pool).await?;
        inner.listen(channel).await?;
        Ok(Some(Listener { inner }))
    }

    pub(crate) fn pg_pool(&self) -> Option<&PgPool> {
        match &self.pools {
            Pools::Postgres(p) => Some(p),
            Pools::Sqlite(_) => None,
        }
    }

    pub(crate) fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.pools {
            Pools::Sqlite(p) => Some(p),
            Pools::Postgres(_) => None,
        }
    }
}

impl Conn<'_> {
    /// The backend this connection talks to (for the few statements that differ, such as
    /// `FOR UPDATE`).
    pub fn backend(&self) -> Backend {
        match self {
            Conn::Postgres(_) => Backend::Postgres,
            Conn::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Serializes transactions on `key` until this transaction ends: a PostgreSQL
    /// transaction-scoped advisory lock (it orders work on rows that may not exist yet, which
    /// `FOR UPDATE` cannot); nothing on SQLite, whose writers hold `BEGIN IMMEDIATE`.
    pub async fn lock_key(&mut self, key: &str) -> Result<()> {
        if let Conn::Postgres(c) = self {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(key)
                .execute(&mut **c)
                .await?;
        }
        Ok(())
    }
}

impl PooledConn {
    /// Borrows the native connection.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            PooledConn::Postgres(c) => Conn::Postgres(c),
            PooledConn::Sqlite(c) => Conn::Sqlite(c),
        }
    }
}

impl Tx {
    /// Borrows the transaction's connection.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Postgres(t) => Conn::Postgres(t),
            Tx::Sqlite(t) => Conn::Sqlite(t),
        }
    }

    /// Commits.
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Postgres(t) => t.commit().await?,
            Tx::Sqlite(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Rolls back explicitly (dropping does the same, later).
    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Postgres(t) => t.rollback().await?,
            Tx::Sqlite(t) => t.rollback().await?,
        }
        Ok(())
    }
}

/// A PostgreSQL `LISTEN` connection (see [`Store::listen`]).
pub struct Listener {
    inner: sqlx::postgres::PgListener,
}

impl Listener {
    /// The next notification's payload, or `None` when the connection was lost (notifications
    /// may have been missed; the listener reconnects on the next call).
    pub async fn recv(&mut self) -> Result<Option<String>> {
        Ok(self.inner.try_recv().await?.map(|n| n.payload().to_owned()))
    }
}
