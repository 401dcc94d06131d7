//! The numstat of one commit against its only parent (or the empty tree for a root commit),
//! matching `git log --numstat --no-renames`: no rename detection, a file is binary when either
//! side has a NUL byte in its first 8,000 bytes (printed `-`), a submodule pointer counts as one
//! line ("Subproject commit …"), a mode-only change is 0/0.

use gix::ObjectId;
use gix::bstr::BString;
use gix::diff::blob::{Algorithm, Diff, InternedInput};
use gix::diff::tree::recorder::Change;
use gix::objs::FindExt;
use gix::objs::tree::EntryMode;

use super::{ChangeKind, FileStat, GitError, StatsState};

/// git's binary sniffing window.
const BINARY_PROBE: usize = 8_000;

/// When a diff stops being read in full (§4 "damaged history"): it is stored as `partial`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Changed lines (added + deleted) across the commit.
    pub max_lines: u64,
    /// Changed files.
    pub max_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_lines: 100_000,
            max_files: 10_000,
        }
    }
}

/// Buffers reused across commits, so diffing allocates little per file.
#[derive(Default)]
pub(crate) struct Differ {
    state: gix::diff::tree::State,
    old_tree: Vec<u8>,
    new_tree: Vec<u8>,
    old_blob: Vec<u8>,
    new_blob: Vec<u8>,
    diff: Diff,
}

/// One side of a changed entry.
#[derive(Clone, Copy)]
struct Side {
    mode: EntryMode,
    id: ObjectId,
}

impl Differ {
    /// The files changed between `old` (None: the empty tree) and `new`, in path order.
    pub(crate) fn numstat(
        &mut self,
        objects: &gix::OdbHandle,
        old: Option<ObjectId>,
        new: ObjectId,
        limits: Limits,
    ) -> Result<(Vec<FileStat>, StatsState), GitError> {
        let mut recorder = gix::diff::tree::Recorder::default();
        let old_iter = match old {
            Some(id) => objects
                .find_tree_iter(&id, &mut self.old_tree)
                .map_err(GitError::read)?,
            None => gix::objs::TreeRefIter::from_bytes(&[], gix::hash::Kind::Sha1),
        };
        let new_iter = objects
            .find_tree_iter(&new, &mut self.new_tree)
            .map_err(GitError::read)?;
        gix::diff::tree(old_iter, new_iter, &mut self.state, objects, &mut recorder)
            .map_err(GitError::read)?;

        let mut files = Vec::new();
        let mut lines = 0u64;
        let mut state = StatsState::Complete;
        for change in recorder.records {
            let (path, old, new) = match change {
                Change::Addition {
                    entry_mode,
                    oid,
                    path,
                    ..
                } => (
                    path,
                    None,
                    Some(Side {
                        mode: entry_mode,
                        id: oid,
                    }),
                ),
                Change::Deletion {
                    entry_mode,
                    oid,
                    path,
                    ..
                } => (
                    path,
                    Some(Side {
                        mode: entry_mode,
                        id: oid,
                    }),
                    None,
                ),
                Change::Modification {
                    previous_entry_mode,
                    previous_oid,
                    entry_mode,
                    oid,
                    path,
                } => (
                    path,
                    Some(Side {
                        mode: previous_entry_mode,
                        id: previous_oid,
                    }),
                    Some(Side {
                        mode: entry_mode,
                        id: oid,
                    }),
                ),
            };
            // Trees are walked into; only their leaves are numstat lines.
            if old.is_some_and(|s| s.mode.is_tree()) || new.is_some_and(|s| s.mode.is_tree()) {
                if let (Some(o), Some(n)) = (old, new)
                    && o.mode.is_tree() != n.mode.is_tree()
                {
                    // A file replaced by a directory (or back): git shows the file's side as
                    // added or deleted; the directory side is walked separately.
                    let file = if o.mode.is_tree() { n } else { o };
                    let (o, n) = if o.mode.is_tree() {
                        (None, Some(file))
                    } else {
                        (Some(file), None)
                    };
                    files.push(self.file(objects, path, o, n)?);
                }
                continue;
            }
            if files.len() >= limits.max_files || lines > limits.max_lines {
                state = StatsState::Partial;
                break;
            }
            let stat = self.file(objects, path, old, new)?;
            lines += u64::from(stat.additions) + u64::from(stat.deletions);
            files.push(stat);
        }
        if lines > limits.max_lines {
            state = StatsState::Partial;
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((files, state))
    }

    fn file(
        &mut self,
        objects: &gix::OdbHandle,
        path: BString,
        old: Option<Side>,
        new: Option<Side>,
    ) -> Result<FileStat, GitError> {
        let change = match (old, new) {
            (None, _) => ChangeKind::Added,
            (_, None) => ChangeKind::Deleted,
            (Some(o), Some(n)) if kind(o.mode) != kind(n.mode) => ChangeKind::TypeChanged,
            _ => ChangeKind::Modified,
        };
        let path = String::from_utf8_lossy(&path).into_owned();
        load(objects, old, &mut self.old_blob)?;
        load(objects, new, &mut self.new_blob)?;
        let (old_bytes, new_bytes) = (self.old_blob.as_slice(), self.new_blob.as_slice());
        if is_binary(old_bytes) || is_binary(new_bytes) {
            return Ok(FileStat {
                path,
                additions: 0,
                deletions: 0,
                is_binary: true,
                change,
            });
        }
        let (additions, deletions) = if old.is_some_and(|o| new.is_some_and(|n| o.id == n.id)) {
            (0, 0)
        } else if old_bytes.is_empty() {
            (count_lines(new_bytes), 0)
        } else if new_bytes.is_empty() {
            (0, count_lines(old_bytes))
        } else {
            let input = InternedInput::new(old_bytes, new_bytes);
            self.diff.compute_with(
                Algorithm::Myers,
                &input.before,
                &input.after,
                input.interner.num_tokens(),
            );
            (self.diff.count_additions(), self.diff.count_removals())
        };
        Ok(FileStat {
            path,
            additions,
            deletions,
            is_binary: false,
            change,
        })
    }
}

/// Fills `buf` with what git diffs for one side: the blob (or symlink target), a submodule's
/// "Subproject commit <id>" line, or nothing for an absent side.
fn load(objects: &gix::OdbHandle, side: Option<Side>, buf: &mut Vec<u8>) -> Result<(), GitError> {
    buf.clear();
    match side {
        None => {}
        Some(s) if s.mode.is_commit() => {
            buf.extend_from_slice(format!("Subproject commit {}\n", s.id).as_bytes());
        }
        Some(s) => {
            let mut raw = Vec::new();
            let blob = objects.find_blob(&s.id, &mut raw).map_err(GitError::read)?;
            buf.extend_from_slice(blob.data);
        }
    }
    Ok(())
}

/// git's "type" of an entry: an executable bit flip is a modification, not a type change.
fn kind(mode: EntryMode) -> u8 {
    if mode.is_link() {
        1
    } else if mode.is_commit() {
        2
    } else {
        0
    }
}

fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(BINARY_PROBE)].contains(&0)
}

/// Lines as git counts them: a last line without a newline is still a line.
fn count_lines(data: &[u8]) -> u32 {
    let newlines = data.iter().filter(|&&b| b == b'\n').count();
    let trailing = usize::from(!data.is_empty() && !data.ends_with(b"\n"));
    u32::try_from(newlines + trailing).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_as_git_does() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a"), 1);
        assert_eq!(count_lines(b"a\n"), 1);
        assert_eq!(count_lines(b"a\nb"), 2);
        assert_eq!(count_lines(b"\n\n"), 2);
    }

    #[test]
    fn a_nul_in_the_first_8000_bytes_is_binary() {
        assert!(is_binary(b"ab\0c"));
        let mut late = vec![b'a'; BINARY_PROBE];
        late.push(0);
        assert!(!is_binary(&late));
    }
}
