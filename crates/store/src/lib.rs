//! Storage for Dev Health on SQLite (the embedded default) and PostgreSQL (production).
//!
//! One schema, two backends: the database is chosen at run time from its URL, the SQL text is
//! shared wherever both dialects agree (`$N` placeholders, `RETURNING`, `ON CONFLICT`), and the
//! two embedded migration folders are kept in step by a test. The `Any` driver is avoided because
//! it cannot decode UUIDs, timestamps or JSON; instead [`Conn`] is an enum over the two native
//! connections and [`on_conn!`] expands the same query code for each.
//!
//! Repositories are modules of free functions taking `&mut Conn`, so the same function runs on a
//! pooled connection or inside a transaction — jobs and outbox rows are written in the same
//! transaction as the change that causes them.

pub mod analytics;
pub mod catalog;
pub mod clock_mark;
mod db;
pub mod entitlements;
mod error;
pub mod identity;
pub mod jobs;
mod migrate;
mod types;
mod url;

#[cfg(feature = "testing")]
pub mod testing;

pub use db::{Backend, Conn, Listener, PoolOptions, PooledConn, Store, Tx};
pub use error::StoreError;
pub use migrate::{MigrationState, MigrationStatus, Schema, embedded as embedded_migrations};
pub use types::{Id, JsonText, Ts};
pub use url::{DatabaseUrl, UrlError};

/// Re-exported so that [`on_conn!`] works in crates that do not depend on sqlx themselves.
pub use sqlx;

/// Result alias of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
