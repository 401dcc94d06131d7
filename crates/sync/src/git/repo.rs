//! Opening a repository, resolving the synced ref, planning the incremental walk and reading
//! commits.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use gix::ObjectId;

use super::numstat::{Differ, Limits};
use super::{GitCommit, GitError, Person, StatsState};

/// The longest stored subject (§2.1).
const MAX_SUBJECT: usize = 1024;

/// An open repository. Cheap to clone: each diffing thread takes its own clone.
#[derive(Clone)]
pub struct GitRepo {
    repo: gix::Repository,
}

impl std::fmt::Debug for GitRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitRepo")
            .field("git_dir", &self.repo.git_dir())
            .finish()
    }
}

/// The synced ref and the commit it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tip {
    /// Full ref name (`refs/heads/main`); the cursor key.
    pub ref_name: String,
    /// Short branch name (`main`).
    pub branch: String,
    /// The commit it points at.
    pub id: ObjectId,
}

/// The commits a sync reads, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkPlan {
    /// Commits to read, parents before children where the history allows.
    pub ids: Vec<ObjectId>,
    /// The old tip was not found (rewritten history pruned away): everything reachable was
    /// walked and the caller skips commits it already stored.
    pub full_walk: bool,
}

/// A sync's own reading state: diff buffers reused across commits.
#[derive(Default)]
pub struct Reader {
    differ: Differ,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reader")
    }
}

impl GitRepo {
    /// Opens the repository at `path` (a work tree or a bare repository).
    pub fn open(path: &Path) -> Result<GitRepo, GitError> {
        let mut repo = gix::open(path).map_err(|e| GitError::NotARepository {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        // Trees and commits are re-read by neighbouring diffs; a modest cache pays for itself.
        repo.object_cache_size_if_unset(16 * 1024 * 1024);
        Ok(GitRepo { repo })
    }

    /// The branch HEAD points at (the default branch of a fresh clone), or `branch` if given.
    pub fn tip(&self, branch: Option<&str>) -> Result<Tip, GitError> {
        let mut reference = match branch {
            Some(b) => {
                let full = if b.starts_with("refs/") {
                    b.to_owned()
                } else {
                    format!("refs/heads/{b}")
                };
                self.repo
                    .find_reference(full.as_str())
                    .map_err(|_| GitError::RefNotFound(full.clone()))?
            }
            None => self
                .repo
                .head_ref()
                .map_err(GitError::read)?
                .ok_or_else(|| GitError::RefNotFound("HEAD".to_owned()))?,
        };
        let id = reference
            .peel_to_id()
            .map_err(|_| GitError::RefNotFound(reference.name().as_bstr().to_string()))?
            .detach();
        let name = reference.name();
        Ok(Tip {
            ref_name: name.as_bstr().to_string(),
            branch: name.shorten().to_string(),
            id,
        })
    }

    /// The commits reachable from `tip` but not from `old_tip` (the last synced tip), oldest
    /// first. A rewritten history (force push) still hides what the old tip reaches, which the
    /// previous sync stored; only when the old tip's objects are gone is the whole ref walked.
    /// With `since`, the walk stops at commits committed before it, as `git rev-list --since`
    /// does (a first sync of a long history limited to its recent part).
    pub fn plan(
        &self,
        tip: ObjectId,
        old_tip: Option<ObjectId>,
        since: Option<DateTime<Utc>>,
    ) -> Result<WalkPlan, GitError> {
        let hidden = old_tip.filter(|id| self.repo.find_commit(*id).is_ok());
        let full_walk = old_tip.is_some() && hidden.is_none();
        if hidden == Some(tip) {
            return Ok(WalkPlan {
                ids: Vec::new(),
                full_walk,
            });
        }
        let mut walk = self.repo.rev_walk([tip]).with_hidden(hidden);
        if let Some(since) = since {
            walk = walk.sorting(gix::revision::walk::Sorting::ByCommitTimeCutoff {
                order: gix::traverse::commit::simple::CommitTimeOrder::NewestFirst,
                seconds: since.timestamp(),
            });
        }
        let walk = walk.all().map_err(GitError::read)?;
        let mut commits = Vec::new();
        for info in walk {
            let info = info.map_err(GitError::read)?;
            commits.push((info.id, info.parent_ids.to_vec()));
        }
        let ids = parents_first(commits);
        Ok(WalkPlan { ids, full_walk })
    }

    /// The tip tree's `.mailmap`: its blob id and bytes, if there is one.
    pub fn mailmap(&self, tip: ObjectId) -> Result<Option<(String, Vec<u8>)>, GitError> {
        let commit = self.repo.find_commit(tip).map_err(GitError::read)?;
        let tree = commit.tree().map_err(GitError::read)?;
        let Some(entry) = tree.find_entry(".mailmap") else {
            return Ok(None);
        };
        if !entry.mode().is_blob() {
            return Ok(None);
        }
        let blob = self
            .repo
            .find_object(entry.object_id())
            .map_err(GitError::read)?;
        Ok(Some((entry.object_id().to_string(), blob.data.clone())))
    }

    /// Reads one commit with its numstat: merges get none (`merge_skipped`), a commit whose
    /// parent or trees are missing is `missing_objects`.
    pub fn read(
        &self,
        reader: &mut Reader,
        id: ObjectId,
        limits: Limits,
    ) -> Result<GitCommit, GitError> {
        let commit = self.repo.find_commit(id).map_err(GitError::read)?;
        let decoded = commit.decode().map_err(GitError::read)?;
        let parents: Vec<ObjectId> = decoded.parents().collect();
        let author = person(decoded.author().map_err(GitError::read)?)?;
        let committer = person(decoded.committer().map_err(GitError::read)?)?;
        let subject = subject(decoded.message);
        let tree = decoded.tree();

        let (files, stats_state) = if parents.len() > 1 {
            (Vec::new(), StatsState::MergeSkipped)
        } else {
            let parent_tree = match parents.first() {
                None => Ok(None),
                Some(p) => self
                    .repo
                    .find_commit(*p)
                    .and_then(|c| c.tree_id())
                    .map(|t| Some(t.detach())),
            };
            match parent_tree {
                Err(_) => (Vec::new(), StatsState::MissingObjects),
                Ok(old) => match reader.differ.numstat(&self.repo.objects, old, tree, limits) {
                    Ok(r) => r,
                    Err(_) if !self.complete(old, tree) => (Vec::new(), StatsState::MissingObjects),
                    Err(e) => return Err(e),
                },
            }
        };
        Ok(GitCommit {
            sha: id.to_string(),
            parents: parents.iter().map(ToString::to_string).collect(),
            author,
            committer,
            subject,
            files,
            stats_state,
        })
    }

    /// Whether both trees are present (a failed diff over a missing tree is damaged history,
    /// not an error).
    fn complete(&self, old: Option<ObjectId>, new: ObjectId) -> bool {
        old.is_none_or(|t| self.repo.has_object(t)) && self.repo.has_object(new)
    }
}

/// Orders walked commits so that every parent comes before its children (a depth-first
/// post-order over the walked set, iterative so deep histories cannot overflow the stack).
fn parents_first(commits: Vec<(ObjectId, Vec<ObjectId>)>) -> Vec<ObjectId> {
    let index: HashMap<ObjectId, usize> = commits
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    let mut done = vec![false; commits.len()];
    let mut out = Vec::with_capacity(commits.len());
    // The walk lists newest first; starting from the end keeps the result close to time order.
    for start in (0..commits.len()).rev() {
        if done[start] {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        while let Some((node, next)) = stack.pop() {
            let parents = &commits[node].1;
            if let Some(p) = parents.get(next) {
                stack.push((node, next + 1));
                // In a DAG an unfinished parent is never already on the stack.
                if let Some(&pi) = index.get(p)
                    && !done[pi]
                {
                    stack.push((pi, 0));
                }
            } else if !done[node] {
                done[node] = true;
                out.push(commits[node].0);
            }
        }
    }
    out
}

fn person(sig: gix::actor::SignatureRef<'_>) -> Result<Person, GitError> {
    let time = sig.time().map_err(GitError::read)?;
    let at = DateTime::<Utc>::from_timestamp(time.seconds, 0)
        .ok_or_else(|| GitError::Read(format!("commit time {} out of range", time.seconds)))?;
    Ok(Person {
        name: sig.name.to_string(),
        email: sig.email.to_string(),
        at,
    })
}

/// The first line of the message, cut to [`MAX_SUBJECT`] bytes on a character boundary.
fn subject(message: &gix::bstr::BStr) -> String {
    let text = String::from_utf8_lossy(message);
    let line = text.lines().next().unwrap_or_default().trim_end();
    let mut end = line.len().min(MAX_SUBJECT);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_owned()
}
