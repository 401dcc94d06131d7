//! Reading a batch of commits on several threads. Diffing trees is the CPU-heavy part of a sync
//! (analytics spec §15: the first sync of 100,000 commits within 1.5x `git log --numstat`), and
//! commits diff independently, so a batch is cut into contiguous parts, one per thread, and the
//! results are joined back in the batch's order.

use super::{GitCommit, GitError, GitRepo, Limits, ObjectId, Reader};

/// Diffing threads, each with its own repository clone and diff buffers, kept across batches.
pub struct ParallelReader {
    workers: Vec<(GitRepo, Reader)>,
}

impl std::fmt::Debug for ParallelReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelReader")
            .field("threads", &self.workers.len())
            .finish()
    }
}

impl ParallelReader {
    /// At most this many threads: beyond it the writer, not the diff, is the bottleneck.
    pub const MAX_THREADS: usize = 4;

    /// One worker per available core, up to [`Self::MAX_THREADS`].
    pub fn new(repo: &GitRepo) -> ParallelReader {
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, Self::MAX_THREADS);
        Self::with_threads(repo, threads)
    }

    /// Exactly `threads` workers (at least one).
    pub fn with_threads(repo: &GitRepo, threads: usize) -> ParallelReader {
        ParallelReader {
            workers: (0..threads.max(1))
                .map(|_| (repo.clone(), Reader::default()))
                .collect(),
        }
    }

    /// Reads `ids` as [`GitRepo::read`] would one by one, in the same order.
    pub fn read(&mut self, ids: &[ObjectId], limits: Limits) -> Result<Vec<GitCommit>, GitError> {
        let part = ids.len().div_ceil(self.workers.len()).max(1);
        let parts: Vec<Result<Vec<GitCommit>, GitError>> = std::thread::scope(|s| {
            let running: Vec<_> = ids
                .chunks(part)
                .zip(self.workers.iter_mut())
                .map(|(ids, (repo, reader))| {
                    s.spawn(move || {
                        ids.iter()
                            .map(|id| repo.read(reader, *id, limits))
                            .collect()
                    })
                })
                .collect();
            running
                .into_iter()
                .map(|t| {
                    t.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let mut out = Vec::with_capacity(ids.len());
        for p in parts {
            out.extend(p?);
        }
        Ok(out)
    }
}
