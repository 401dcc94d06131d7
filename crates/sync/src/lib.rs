//! Connectors: local git (gix), GitHub, GitLab, Jira, Linear and GitHub Issues.
//!
//! Never touches storage (checked by `scripts/check-deps`): connectors return records that `app`
//! upserts. See `spec/analytics.md` §3–§8.

pub mod git;
pub mod providers;
