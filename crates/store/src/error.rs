//! The storage error type.

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or opened.
    #[error("cannot connect to the database at {url}: {source}")]
    Connect {
        /// The URL with any password redacted.
        url: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database holds migrations that do not match this binary.
    #[error("database schema does not match this binary: {0}")]
    SchemaMismatch(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored value could not be interpreted.
    #[error("invalid stored value in {column}: {message}")]
    Corrupt {
        /// Table and column.
        column: &'static str,
        /// What was wrong.
        message: String,
    },
}

impl StoreError {
    /// Whether the error means the database is unreachable rather than a bad query, so callers
    /// can answer 503 instead of 500.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Connect { .. }
                | StoreError::Query(
                    sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
                )
        )
    }
}

impl StoreError {
    /// Whether a unique constraint refused the write (a concurrent insert of the same key).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Query(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    pub(crate) fn corrupt(column: &'static str, message: impl std::fmt::Display) -> Self {
        StoreError::Corrupt {
            column,
            message: message.to_string(),
        }
    }
}
