//! license-svc's repositories over its own database (billing spec §4), on SQLite or PostgreSQL
//! through `store`'s backend-neutral connection. Free functions taking `&mut Conn`, so each runs
//! on a pooled connection or inside the webhook's transaction.

pub mod audit;
pub mod customers;
pub mod entitlements;
pub mod events;
pub mod licenses;
pub mod nonces;
pub mod outbox;
pub mod portal_logins;
pub mod subscriptions;

use store::{Backend, Conn};

/// `FOR UPDATE` on PostgreSQL; nothing on SQLite, where writers hold `BEGIN IMMEDIATE`.
pub(crate) fn for_update(conn: &Conn<'_>) -> &'static str {
    match conn.backend() {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}
