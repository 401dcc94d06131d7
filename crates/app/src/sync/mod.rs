//! Sync use cases (analytics spec §3–§7): running a local git sync and provider syncs (pull
//! requests, work items) as recorded sync runs, integrations with sealed credentials, listing
//! runs, and the job that runs a queued sync in the worker.

mod authors;
pub mod git;
pub mod integrations;
mod progress;
pub mod providers;
pub mod repos;
pub mod runs;
pub mod schedule;
pub mod status_mappings;

pub use git::{GitSyncOptions, GitSyncSummary};
pub use integrations::{
    IntegrationKey, IntegrationSettings, IntegrationView, NewIntegration, SecretText,
};
pub use progress::{Progress, ProgressSink};
pub use providers::{ProviderSyncOptions, ProviderSyncSummary};
pub use repos::{RepoPatch, RepoView};
pub use status_mappings::{ObservedValue, RemapOutcome, StatusMappingView, StatusMappings};
