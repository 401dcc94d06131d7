//! What a local git sync reads, as plain values for the storage layer (analytics spec §2.1
//! `commits` and `commit_files`).

use chrono::{DateTime, Utc};

/// Who authored or committed, as recorded in the commit (raw; the mailmap applies later, when
/// resolving identities).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Name as recorded.
    pub name: String,
    /// Email as recorded.
    pub email: String,
    /// The signature's time, in UTC.
    pub at: DateTime<Utc>,
}

/// How complete a commit's file statistics are (§4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsState {
    /// Every changed file was diffed.
    Complete,
    /// A merge: no numstat by default, its changes sit in the merged commits.
    MergeSkipped,
    /// Objects were missing (shallow or partial clone): no files recorded.
    MissingObjects,
    /// The diff was too large (over 100,000 lines or 10,000 files); counts cover what was read.
    Partial,
}

impl StatsState {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            StatsState::Complete => "complete",
            StatsState::MergeSkipped => "merge_skipped",
            StatsState::MissingObjects => "missing_objects",
            StatsState::Partial => "partial",
        }
    }
}

/// How a path changed, as `git diff --name-status` letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Added.
    Added,
    /// Modified (content or mode).
    Modified,
    /// Deleted.
    Deleted,
    /// Kind changed (blob ↔ symlink ↔ submodule).
    TypeChanged,
}

impl ChangeKind {
    /// The stored letter.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "A",
            ChangeKind::Modified => "M",
            ChangeKind::Deleted => "D",
            ChangeKind::TypeChanged => "T",
        }
    }
}

/// One numstat line: the same numbers `git log --numstat --no-renames` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStat {
    /// Repo-relative, `/`-separated (lossy UTF-8 for non-UTF-8 names).
    pub path: String,
    /// Lines added (0 when binary).
    pub additions: u32,
    /// Lines deleted (0 when binary).
    pub deletions: u32,
    /// Binary on either side (git prints `-`).
    pub is_binary: bool,
    /// How it changed.
    pub change: ChangeKind,
}

/// One commit with its numstat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitCommit {
    /// Hex object id.
    pub sha: String,
    /// Parent ids, in order.
    pub parents: Vec<String>,
    /// The author.
    pub author: Person,
    /// The committer (its time buckets code metrics).
    pub committer: Person,
    /// The first line of the message, at most 1 KiB.
    pub subject: String,
    /// Numstat lines (empty for merges and damaged commits).
    pub files: Vec<FileStat>,
    /// How complete `files` is.
    pub stats_state: StatsState,
}

impl GitCommit {
    /// Whether this is a merge (more than one parent).
    pub fn is_merge(&self) -> bool {
        self.parents.len() > 1
    }
}
