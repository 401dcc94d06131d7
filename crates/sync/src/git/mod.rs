//! Local git sync with gix (analytics spec §4): resolve the synced ref, plan an incremental walk
//! from the last synced tip, and read each commit with the numstat `git log --numstat
//! --no-renames` would print. Pure reading: the caller stores what it gets and moves the cursor.

pub mod generate;
mod mailmap;
mod numstat;
mod parallel;
mod repo;
mod types;

pub use gix::ObjectId;
pub use mailmap::Mailmap;
pub use numstat::Limits;
pub use parallel::ParallelReader;
pub use repo::{GitRepo, Reader, Tip, WalkPlan};
pub use types::{ChangeKind, FileStat, GitCommit, Person, StatsState};

/// Why a repository could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The path is not a git repository.
    #[error("{path} is not a git repository ({reason})")]
    NotARepository {
        /// The path given.
        path: String,
        /// What gix said.
        reason: String,
    },
    /// The ref to sync does not exist (or HEAD is unborn).
    #[error("ref {0} not found")]
    RefNotFound(String),
    /// Reading objects failed.
    #[error("reading the repository: {0}")]
    Read(String),
}

impl GitError {
    fn read(e: impl std::fmt::Display) -> GitError {
        GitError::Read(e.to_string())
    }
}
