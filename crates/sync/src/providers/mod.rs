//! Provider connectors (`spec/analytics.md` §3.3–§7): GitHub pull requests and issues, GitLab
//! merge requests, Jira and Linear work items.
//!
//! Every connector is a *pass*: it takes what the store already knows ([`pass::PassInput`]:
//! the incremental cursor, an interrupted pass's checkpoint, stored ETags and the stored
//! `updated_at` of each item) and returns plain records ([`records`]) plus what to store next
//! ([`pass::Pass`]: the new cursor, ETags, and either "complete" or "deferred with a
//! checkpoint"). Nothing here touches storage: `app` upserts the records by natural key, so a
//! re-run never duplicates rows.
//!
//! The shared [`http::HttpClient`] owns pagination, conditional requests, the per-provider
//! rate-limit rules, backoff and the run's wait budget; time and sleeping are injected
//! ([`time`]) so tests assert the waits instead of sleeping.

pub mod auth;
pub mod connection;
pub mod error;
pub mod github;
pub mod gitlab;
pub mod http;
pub mod jira;
pub mod linear;
pub mod pass;
pub mod records;
pub mod time;
mod timefmt;

pub use auth::{Auth, Token};
pub use error::Error;
pub use http::{HttpClient, HttpConfig, ProviderKind};
pub use pass::{Checkpoint, Known, Pass, PassEnd, PassInput};
