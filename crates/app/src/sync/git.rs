//! A local git sync as a recorded run (analytics spec §3.1, §4): resolve the ref, plan the walk
//! from the stored tip, diff on a blocking thread while the async side resolves authors and
//! writes batches of 1,000 commits (oldest first, one transaction each), then move the cursor
//! to the new tip with the last batch. A failure leaves the cursor where it was; the commits
//! already written stay, and the next run's upserts make them harmless.

use std::path::{Path, PathBuf};

use analytics::code::Exclusions;
use chrono::{DateTime, Utc};
use domain::{Limit, OrgId, RepoId, SyncRunId};
use serde_json::json;
use store::analytics::commits::{NewCommit, NewFile};
use store::analytics::cursors::{self, CursorKey};
use store::analytics::repos::{self, NewRepo};
use store::analytics::sync_runs::{self, NewRun, Outcome};
use sync::git::{
    GitCommit, GitError, GitRepo, Limits, Mailmap, ObjectId, ParallelReader, StatsState,
};
use tokio::sync::mpsc;

use super::authors::Authors;
use super::progress::{ProgressSink, Throttle};
use crate::{App, AppError, ErrorKind, Result};

/// Commits per transaction (§4).
const BATCH: usize = 1_000;

/// How a git sync runs.
#[derive(Debug, Clone)]
pub struct GitSyncOptions {
    /// The branch to sync; HEAD's branch when absent.
    pub branch: Option<String>,
    /// `cli`, `manual`, `schedule` or `webhook`.
    pub trigger: &'static str,
    /// When a diff is stored as `partial`.
    pub limits: Limits,
    /// A first sync reads only commits committed since then (`--since`); ignored once the
    /// repository has a synced tip, so later syncs never leave a gap.
    pub since: Option<DateTime<Utc>>,
}

impl Default for GitSyncOptions {
    fn default() -> Self {
        GitSyncOptions {
            branch: None,
            trigger: "cli",
            limits: Limits::default(),
            since: None,
        }
    }
}

/// What a git sync did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GitSyncSummary {
    /// The run.
    pub run_id: SyncRunId,
    /// The repository.
    pub repo_id: RepoId,
    /// `succeeded` or `partial`.
    pub status: String,
    /// The synced ref.
    pub ref_name: String,
    /// The tip now stored as the cursor.
    pub tip: String,
    /// Commits read and written by this run.
    pub commits: u64,
    /// Of which merges.
    pub merges: u64,
    /// Numstat lines written.
    pub files: u64,
    /// Commits stored with missing objects.
    pub missing_objects: u64,
    /// Commits whose diff was too large to read in full.
    pub partial: u64,
    /// Commits a full re-walk found already stored.
    pub skipped: u64,
    /// Identities created.
    pub identities_created: u64,
    /// Whether another run of this repository was already going (nothing was done).
    pub already_running: bool,
}

fn git_error(e: GitError) -> AppError {
    let code = match e {
        GitError::NotARepository { .. } => "not_a_repository",
        GitError::RefNotFound(_) => "ref_not_found",
        GitError::Read(_) => "git_read_failed",
    };
    AppError::new(ErrorKind::Invalid, code, e.to_string())
}

fn internal(what: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %what, "git sync failed");
    AppError::new(
        ErrorKind::Internal,
        "internal_error",
        "The git sync failed unexpectedly.",
    )
}

fn joined(e: tokio::task::JoinError) -> AppError {
    internal(format!("git reader thread: {e}"))
}

impl App {
    /// Registers a local repository for an org (operators and the CLI; the path is made
    /// absolute), counted against the `repos` limit when new. Returns its id.
    pub async fn register_local_repo(&self, org: OrgId, path: &Path) -> Result<RepoId> {
        let path = std::fs::canonicalize(path).map_err(|e| {
            AppError::new(
                ErrorKind::Invalid,
                "path_not_found",
                format!("{}: {e}", path.display()),
            )
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".git").to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| path.display().to_string());
        let full_name = path.display().to_string();
        let snapshot = self.entitlements_of(org).await;
        let now = self.clock().now();
        let mut tx = self.store().begin_write().await?;
        tx.conn().lock_key(&format!("repos:{org}")).await?;
        if let Some(existing) = repos::by_name(&mut tx.conn(), org, "local", &full_name).await? {
            return Ok(existing.id);
        }
        let active = repos::count_active(&mut tx.conn(), org).await?;
        snapshot.ensure_limit(Limit::Repos, u64::try_from(active).unwrap_or(0), 1)?;
        let (id, _) = repos::insert_or_get(
            &mut tx.conn(),
            org,
            &NewRepo {
                integration_id: None,
                provider: "local",
                external_id: None,
                full_name: &full_name,
                default_branch: None,
                local_path: Some(&full_name),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(%org, repo = %id, name, "local repository registered");
        Ok(id)
    }

    /// Syncs a repository's commits now, as a run (the CLI calls this directly; the worker's
    /// `sync.git` job too). When a run of the same repository is already queued or running,
    /// nothing is done and that run is returned.
    pub async fn sync_git_repo(
        &self,
        org: OrgId,
        repo_id: RepoId,
        opts: &GitSyncOptions,
        sink: &dyn ProgressSink,
    ) -> Result<GitSyncSummary> {
        let repo = {
            let mut c = self.store().acquire().await?;
            repos::get(&mut c.conn(), org, repo_id).await?
        }
        .ok_or_else(|| AppError::new(ErrorKind::NotFound, "not_found", "No such repository."))?;
        let source = repo_id.as_uuid();
        let (run, created) = {
            let mut c = self.store().acquire().await?;
            sync_runs::create_or_existing(
                &mut c.conn(),
                org,
                NewRun {
                    source_id: source,
                    dataset: "commits",
                    trigger: opts.trigger,
                    status: "running",
                },
                self.clock().now(),
            )
            .await?
        };
        if !created {
            return Ok(GitSyncSummary {
                run_id: run.id,
                repo_id,
                status: run.status,
                ref_name: String::new(),
                tip: String::new(),
                commits: 0,
                merges: 0,
                files: 0,
                missing_objects: 0,
                partial: 0,
                skipped: 0,
                identities_created: 0,
                already_running: true,
            });
        }
        self.run_git_sync(org, repo, run.id, opts, sink).await
    }

    /// Runs a created run to its end and records the outcome on it.
    pub(crate) async fn run_git_sync(
        &self,
        org: OrgId,
        repo: repos::Repo,
        run_id: SyncRunId,
        opts: &GitSyncOptions,
        sink: &dyn ProgressSink,
    ) -> Result<GitSyncSummary> {
        let mut exclusions: Vec<String> = analytics::code::DEFAULT_EXCLUDED
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        exclusions.extend(repo.excluded_paths.iter().cloned());
        let result = match repo.local_path.clone() {
            None => Err(AppError::new(
                ErrorKind::Invalid,
                "no_local_path",
                "This repository has no local path to sync.",
            )),
            Some(path) => {
                let job = Job {
                    app: self,
                    org,
                    repo_id: repo.id,
                    run_id,
                    path: PathBuf::from(path),
                    opts,
                    sink,
                    exclusions: Exclusions::new(&exclusions)
                        .unwrap_or_else(|_| Exclusions::defaults()),
                };
                job.run().await
            }
        };
        let now = self.clock().now();
        let mut c = self.store().acquire().await?;
        match &result {
            Ok(s) => {
                let counts = json!({
                    "commits": s.commits, "merges": s.merges, "files": s.files,
                    "missing_objects": s.missing_objects, "partial": s.partial,
                    "skipped": s.skipped, "identities_created": s.identities_created,
                });
                let outcome = Outcome {
                    status: &s.status,
                    counts: &counts,
                    error_code: None,
                    error_message: None,
                    resume_at: None,
                };
                sync_runs::finish(&mut c.conn(), org, run_id, &outcome, now).await?;
            }
            Err(e) => {
                let counts = json!({});
                let outcome = Outcome {
                    status: "failed",
                    counts: &counts,
                    error_code: Some(e.code),
                    error_message: Some(&e.message),
                    resume_at: None,
                };
                sync_runs::finish(&mut c.conn(), org, run_id, &outcome, now).await?;
            }
        }
        result
    }
}

/// One run's state.
struct Job<'a> {
    app: &'a App,
    org: OrgId,
    repo_id: RepoId,
    run_id: SyncRunId,
    path: PathBuf,
    opts: &'a GitSyncOptions,
    sink: &'a dyn ProgressSink,
    exclusions: Exclusions,
}

impl Job<'_> {
    async fn progress(
        &self,
        throttle: &mut Throttle,
        phase: &'static str,
        done: u64,
        total: Option<u64>,
        message: String,
    ) -> Result<()> {
        let (p, store) = throttle.report(phase, done, total, message);
        self.sink.report(&p);
        if store {
            let doc = serde_json::to_value(&p).unwrap_or_default();
            let mut c = self.app.store().acquire().await?;
            sync_runs::progress(&mut c.conn(), self.org, self.run_id, &doc).await?;
        }
        Ok(())
    }

    async fn run(&self) -> Result<GitSyncSummary> {
        let mut throttle = Throttle::new();
        self.progress(
            &mut throttle,
            "resolving_refs",
            0,
            None,
            self.path.display().to_string(),
        )
        .await?;
        let path = self.path.clone();
        let branch = self.opts.branch.clone();
        let (repo, tip, mailmap) = tokio::task::spawn_blocking(move || {
            let repo = GitRepo::open(&path)?;
            let tip = repo.tip(branch.as_deref())?;
            let mailmap = repo.mailmap(tip.id)?;
            Ok::<_, GitError>((repo, tip, mailmap))
        })
        .await
        .map_err(joined)?
        .map_err(git_error)?;

        let source = self.repo_id.as_uuid();
        let key = CursorKey {
            source_id: source,
            dataset: "commits",
            key: &tip.ref_name,
        };
        let old_tip: Option<ObjectId> = {
            let mut c = self.app.store().acquire().await?;
            cursors::get(&mut c.conn(), self.org, key)
                .await?
                .and_then(|c| c.cursor)
                .and_then(|s| s.parse().ok())
        };
        self.progress(&mut throttle, "walking", 0, None, tip.ref_name.clone())
            .await?;
        let (plan, repo) = {
            let tip_id = tip.id;
            let since = self.opts.since.filter(|_| old_tip.is_none());
            tokio::task::spawn_blocking(move || {
                repo.plan(tip_id, old_tip, since).map(|p| (p, repo))
            })
            .await
            .map_err(joined)?
            .map_err(git_error)?
        };
        let known = if plan.full_walk {
            let mut c = self.app.store().acquire().await?;
            store::analytics::commits::shas(&mut c.conn(), self.org, self.repo_id).await?
        } else {
            Default::default()
        };
        let planned = plan.ids.len();
        let ids: Vec<ObjectId> = plan
            .ids
            .into_iter()
            .filter(|id| !known.contains(&id.to_string()))
            .collect();
        let total = ids.len() as u64;
        let mut summary = GitSyncSummary {
            run_id: self.run_id,
            repo_id: self.repo_id,
            status: "succeeded".to_owned(),
            ref_name: tip.ref_name.clone(),
            tip: tip.id.to_string(),
            commits: 0,
            merges: 0,
            files: 0,
            missing_objects: 0,
            partial: 0,
            skipped: (planned - ids.len()) as u64,
            identities_created: 0,
            already_running: false,
        };

        // The readers diff on their own threads while batches are written here.
        let (tx_batches, mut rx) = mpsc::channel::<Result<Vec<GitCommit>, GitError>>(2);
        let limits = self.opts.limits;
        let reader = tokio::task::spawn_blocking(move || {
            let mut readers = ParallelReader::new(&repo);
            for chunk in ids.chunks(BATCH) {
                let batch = readers.read(chunk, limits);
                let failed = batch.is_err();
                if tx_batches.blocking_send(batch).is_err() || failed {
                    return;
                }
            }
        });

        let mut authors = Authors::new(Mailmap::new(
            mailmap.as_ref().map(|(_, bytes)| bytes.as_slice()),
            None,
        ));
        let mut written = 0u64;
        let mut last_batch_written = total == 0;
        while let Some(batch) = rx.recv().await {
            let batch = batch.map_err(git_error)?;
            self.progress(
                &mut throttle,
                "writing",
                written,
                Some(total),
                format!("{written}/{total} commits"),
            )
            .await?;
            let now = self.app.clock().now();
            let mut tx = self.app.store().begin_write().await?;
            let mut rows = Vec::with_capacity(batch.len());
            for c in &batch {
                let identity = authors
                    .resolve(
                        &mut tx.conn(),
                        self.org,
                        &c.author.name,
                        &c.author.email,
                        now,
                    )
                    .await?;
                rows.push(self.row(c, identity));
                summary.merges += u64::from(c.is_merge());
                summary.files += c.files.len() as u64;
                summary.missing_objects += u64::from(c.stats_state == StatsState::MissingObjects);
                summary.partial += u64::from(c.stats_state == StatsState::Partial);
            }
            store::analytics::commits::upsert(&mut tx.conn(), self.org, self.repo_id, &rows)
                .await?;
            written += batch.len() as u64;
            if written == total {
                // The cursor moves with the last batch, never before it.
                let cursor = tip.id.to_string();
                cursors::set(&mut tx.conn(), self.org, key, Some(&cursor), None, now).await?;
                last_batch_written = true;
            }
            tx.commit().await?;
        }
        reader.await.map_err(joined)?;
        if total == 0 {
            let cursor = tip.id.to_string();
            let mut c = self.app.store().acquire().await?;
            cursors::set(
                &mut c.conn(),
                self.org,
                key,
                Some(&cursor),
                None,
                self.app.clock().now(),
            )
            .await?;
        } else if !last_batch_written {
            return Err(internal("the git reader stopped before the last commit"));
        }
        summary.commits = written;
        summary.identities_created = authors.created();
        if summary.partial > 0 || summary.missing_objects > 0 {
            summary.status = "partial".to_owned();
        }
        self.progress(
            &mut throttle,
            "metrics",
            written,
            Some(total),
            format!("{written} commits written"),
        )
        .await?;
        Ok(summary)
    }

    fn row(&self, c: &GitCommit, identity: Option<domain::IdentityId>) -> NewCommit {
        let files = c
            .files
            .iter()
            .map(|f| NewFile {
                path: f.path.clone(),
                additions: i64::from(f.additions),
                deletions: i64::from(f.deletions),
                is_binary: f.is_binary,
                change: f.change.as_str(),
                is_excluded: self.exclusions.is_excluded(&f.path),
            })
            .collect();
        NewCommit {
            sha: c.sha.clone(),
            author_name: c.author.name.clone(),
            author_email: c.author.email.clone(),
            author_identity_id: identity,
            authored_at: c.author.at,
            committer_name: c.committer.name.clone(),
            committer_email: c.committer.email.clone(),
            committed_at: c.committer.at,
            parent_count: i64::try_from(c.parents.len()).unwrap_or(i64::MAX),
            subject: c.subject.clone(),
            stats_state: c.stats_state.as_str(),
            files,
        }
    }
}
