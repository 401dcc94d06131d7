//! Synced analytics data and its derived facts (analytics spec §2). Every function takes the
//! org first and filters by it, so a row of another org is never read or written.

pub mod commits;
pub mod cursors;
pub mod etags;
pub mod facts;
pub mod identities;
pub mod integrations;
pub mod metrics;
pub mod pull_requests;
pub mod repos;
pub mod status_mappings;
pub mod sync_runs;
pub mod teams;
pub mod work_items;
