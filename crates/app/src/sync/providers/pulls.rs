//! The pull request sync of a hosted repository (analytics spec §5, §6): the GitHub or GitLab
//! pass, then PRs with their commits and reviews upserted by natural key, authors and reviewers
//! resolved to identities, and `pr_metrics` recomputed for the PRs written.

use std::collections::HashMap;

use analytics::identity::Alias;
use chrono::{DateTime, Utc};
use domain::{OrgId, RepoId, SyncRunId};
use store::analytics::etags;
use store::analytics::integrations::Integration;
use store::analytics::pull_requests::{self, PrCommit, Review};
use store::analytics::repos::{self, Repo};
use sync::providers::github::{self, GithubRepo};
use sync::providers::gitlab::{self, GitlabProject};
use sync::providers::pass::DEFAULT_LOOKBACK;
use sync::providers::records::{CodeHost, PullRequest};
use sync::providers::{HttpClient, PassInput, ProviderKind};

use super::{
    BATCH, Done, Position, ProviderSyncOptions, ProviderSyncSummary, Reporter, already_running,
    provider_error, resume_at, store_position, summary,
};
use crate::analytics::recompute_pull_requests;
use crate::sync::authors::People;
use crate::sync::progress::{ProgressSink, Throttle};
use crate::{App, AppError, ErrorKind, Result};

fn no_repo() -> AppError {
    AppError::new(ErrorKind::NotFound, "not_found", "No such repository.")
}

fn account(host: CodeHost, login: &str) -> Alias {
    match host {
        CodeHost::Github => Alias::Github(login.to_owned()),
        CodeHost::Gitlab => Alias::Gitlab(login.to_owned()),
    }
}

impl App {
    /// Syncs a hosted repository's pull requests (GitHub) or merge requests (GitLab) now, as
    /// a run. When a run of the same repository is already going, nothing is done and that
    /// run is returned.
    pub async fn sync_pull_requests(
        &self,
        org: OrgId,
        repo_id: RepoId,
        opts: &ProviderSyncOptions,
        sink: &dyn ProgressSink,
    ) -> Result<ProviderSyncSummary> {
        let repo = {
            let mut c = self.store().acquire().await?;
            repos::get(&mut c.conn(), org, repo_id).await?
        }
        .ok_or_else(no_repo)?;
        let integration_id = repo.integration_id.ok_or_else(|| {
            AppError::new(
                ErrorKind::Invalid,
                "no_integration",
                "This repository is not bound to a GitHub or GitLab integration.",
            )
        })?;
        let integration = self.stored_integration(org, integration_id).await?;
        let at = Position {
            of: "repo",
            source: repo_id.as_uuid(),
            dataset: "pull_requests",
        };
        let (run, created) = self.open_provider_run(org, at, opts.trigger).await?;
        if !created {
            return Ok(already_running(&run, at));
        }
        let result = self
            .pull_request_pass(org, &repo, &integration, run.id, opts, sink)
            .await;
        let result = self.limit_deferrals(org, at, result).await?;
        self.close_provider_run(org, at, run.id, &result).await?;
        summary(run.id, at, result)
    }

    async fn pull_request_pass(
        &self,
        org: OrgId,
        repo: &Repo,
        integration: &Integration,
        run_id: SyncRunId,
        opts: &ProviderSyncOptions,
        sink: &dyn ProgressSink,
    ) -> Result<Done> {
        let kind = match repo.provider.as_str() {
            "github" => ProviderKind::Github,
            "gitlab" => ProviderKind::Gitlab,
            _ => {
                return Err(AppError::new(
                    ErrorKind::Invalid,
                    "not_hosted",
                    "Only GitHub and GitLab repositories have pull requests to sync.",
                ));
            }
        };
        let mut reporter = Reporter {
            app: self,
            org,
            run_id,
            sink,
            throttle: Throttle::counting("pull_requests"),
        };
        let auth = self.credential(org, integration)?;
        let http = HttpClient::new(kind, auth, opts.http.clone(), self.timekeeper(opts))
            .map_err(provider_error)?;
        let at = Position {
            of: "repo",
            source: repo.id.as_uuid(),
            dataset: "pull_requests",
        };
        let (cursor, checkpoint) = self.load_position(org, at).await?;
        let (tags, known) = {
            let mut c = self.store().acquire().await?;
            let tags = etags::load(&mut c.conn(), org, integration.id).await?;
            let known: HashMap<String, DateTime<Utc>> =
                pull_requests::updated_at_by_number(&mut c.conn(), org, repo.id)
                    .await?
                    .into_iter()
                    .map(|(n, t)| (n.to_string(), t))
                    .collect();
            (tags, known)
        };
        reporter.report("listing", 0, None).await?;
        let input = PassInput {
            cursor,
            checkpoint: checkpoint.as_ref(),
            etags: &tags,
            known: &known,
            lookback: DEFAULT_LOOKBACK,
        };
        let api = integration.base_url.clone().unwrap_or_default();
        let pass = match kind {
            ProviderKind::Gitlab => {
                let project = GitlabProject {
                    api,
                    id: repo.external_id.clone().unwrap_or(repo.full_name.clone()),
                };
                gitlab::merge_requests(&http, &project, input).await
            }
            _ => {
                let (owner, name) = repo.full_name.split_once('/').unwrap_or_default();
                let gh = GithubRepo {
                    api,
                    owner: owner.to_owned(),
                    name: name.to_owned(),
                };
                github::pull_requests(&http, &gh, input).await
            }
        }
        .map_err(provider_error)?;

        let total = pass.items.len() as u64;
        let mut people = People::new();
        let mut written = 0u64;
        let chunks: Vec<&[PullRequest]> = if pass.items.is_empty() {
            vec![&[]]
        } else {
            pass.items.chunks(BATCH).collect()
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            reporter.report("writing", written, Some(total)).await?;
            let now = self.clock().now();
            let mut tx = self.store().begin_write().await?;
            let mut touched = Vec::with_capacity(chunk.len());
            for pr in chunk {
                self.write_pull_request(&mut tx.conn(), org, repo.id, pr, &mut people, now)
                    .await?;
                touched.push((repo.id, pr.number));
            }
            recompute_pull_requests(&mut tx.conn(), org, &touched).await?;
            if i == last {
                // The position moves with the last batch, never before the rows it covers.
                store_position(&mut tx.conn(), org, integration.id, at, &pass, now).await?;
            }
            tx.commit().await?;
            written += chunk.len() as u64;
        }
        reporter.report("metrics", written, Some(total)).await?;
        Ok(Done {
            partial: pass.is_partial(),
            resume_at: resume_at(&pass),
            counts: pass.counts,
            written,
            identities_created: people.created,
            requests: http.requests(),
            waited_s: http.waited_s(),
        })
    }

    /// Upserts one PR with its commits and reviews. GitLab approvals without a timestamp are
    /// skipped: `reviews.submitted_at` is required and such approvals carry no timing (§6).
    async fn write_pull_request(
        &self,
        conn: &mut store::Conn<'_>,
        org: OrgId,
        repo: RepoId,
        pr: &PullRequest,
        people: &mut People,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let author = match &pr.author_login {
            Some(login) => {
                people
                    .account(conn, org, account(pr.provider, login), now)
                    .await?
            }
            None => None,
        };
        let row = pull_requests::PullRequest {
            repo_id: repo,
            number: pr.number,
            provider: pr.provider.as_str().to_owned(),
            external_id: Some(pr.external_id.clone()),
            title: pr.title.clone(),
            state: pr.state.as_str().to_owned(),
            is_draft: pr.is_draft,
            author_login: pr.author_login.clone(),
            author_identity_id: author,
            head_ref: pr.head_ref.clone(),
            base_ref: pr.base_ref.clone(),
            labels: pr.labels.clone(),
            created_at: pr.created_at,
            updated_at: pr.updated_at,
            first_commit_at: pr.first_commit_at,
            first_review_at: pr.first_review_at,
            first_comment_at: pr.first_comment_at,
            last_approval_at: pr.last_approval_at,
            merged_at: pr.merged_at,
            closed_at: pr.closed_at,
            merge_commit_sha: pr.merge_commit_sha.clone(),
            additions: pr.additions,
            deletions: pr.deletions,
            changed_files: pr.changed_files,
            commit_count: pr.commit_count,
            size_state: pr.size_state.as_str().to_owned(),
        };
        pull_requests::upsert(conn, org, &row).await?;
        let mut commits = Vec::with_capacity(pr.commits.len());
        for c in &pr.commits {
            // Commit authors join emails to provider logins (§8), even though the PR commit
            // row keeps no identity of its own.
            people.resolve(conn, org, &c.author, now).await?;
            commits.push(PrCommit {
                sha: c.sha.clone(),
                authored_at: c.authored_at,
            });
        }
        pull_requests::upsert_commits(conn, org, repo, pr.number, &commits).await?;
        let mut reviews = Vec::with_capacity(pr.reviews.len());
        for r in &pr.reviews {
            let Some(submitted_at) = r.submitted_at else {
                continue;
            };
            let reviewer = match &r.reviewer_login {
                Some(login) => {
                    people
                        .account(conn, org, account(pr.provider, login), now)
                        .await?
                }
                None => None,
            };
            reviews.push(Review {
                review_id: r.review_id.clone(),
                reviewer_login: r.reviewer_login.clone(),
                reviewer_identity_id: reviewer,
                state: r.state.as_str().to_owned(),
                submitted_at,
                is_self: r.is_self,
            });
        }
        pull_requests::upsert_reviews(conn, org, repo, pr.number, &reviews).await?;
        Ok(())
    }
}
