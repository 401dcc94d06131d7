//! Sync use cases (analytics spec §3–§4): running a local git sync as a recorded sync run,
//! listing runs, and the job that runs a queued sync in the worker.

mod authors;
pub mod git;
mod progress;
pub mod runs;

pub use git::{GitSyncOptions, GitSyncSummary};
pub use progress::{Progress, ProgressSink};
