//! Repository configuration for people and tokens (analytics spec §2.1, §14): the list and one
//! repository with its last run (`analytics:read`), and switching syncing on or off or setting
//! excluded paths (`sync:configure`). Turning a repository on counts against the `repos` limit
//! (402 `limit_exceeded`), checked under the org's lock so concurrent requests cannot overshoot.

use analytics::code::Exclusions;
use domain::permission::marker::{AnalyticsRead, SyncConfigure};
use domain::{Limit, OrgId, RepoId};
use serde::{Deserialize, Serialize};
use store::analytics::repos::{self, Repo};
use store::analytics::sync_runs::{self, SyncRun};

use crate::authz::Authorized;
use crate::{App, AppError, ErrorKind, Result};

/// A repository as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RepoView {
    /// Id.
    pub id: RepoId,
    /// `local`, `github` or `gitlab`.
    pub provider: String,
    /// Name (the path for local repositories).
    pub full_name: String,
    /// The synced branch, when set.
    pub default_branch: Option<String>,
    /// Synced and counted against the `repos` limit.
    pub is_active: bool,
    /// Extra excluded path globs.
    pub excluded_paths: Vec<String>,
    /// The latest run of its commits (local) or pull requests (GitHub, GitLab).
    pub last_run: Option<SyncRun>,
}

/// A change to a repository's sync configuration; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoPatch {
    /// Sync it or not.
    pub is_active: Option<bool>,
    /// Replaces the extra excluded path globs (at most 100).
    pub excluded_paths: Option<Vec<String>>,
}

fn no_repo() -> AppError {
    AppError::new(ErrorKind::NotFound, "not_found", "No such repository.")
}

impl App {
    pub(super) async fn view(&self, org: OrgId, r: Repo) -> Result<RepoView> {
        let mut c = self.store().acquire().await?;
        // A local repository syncs its commits; a hosted one its pull requests.
        let dataset = if r.provider == "local" {
            "commits"
        } else {
            "pull_requests"
        };
        let last_run =
            sync_runs::latest_for_source(&mut c.conn(), org, r.id.as_uuid(), dataset).await?;
        Ok(RepoView {
            id: r.id,
            provider: r.provider,
            full_name: r.full_name,
            default_branch: r.default_branch,
            is_active: r.is_active,
            excluded_paths: r.excluded_paths,
            last_run,
        })
    }

    /// The caller's org's repositories with their last run.
    pub async fn repos(&self, a: &Authorized<AnalyticsRead>) -> Result<Vec<RepoView>> {
        let org = a.org_id()?;
        let list = {
            let mut c = self.store().acquire().await?;
            repos::list(&mut c.conn(), org).await?
        };
        let mut out = Vec::with_capacity(list.len());
        for r in list {
            out.push(self.view(org, r).await?);
        }
        Ok(out)
    }

    /// One repository of the caller's org (another org's id answers 404).
    pub async fn repo(&self, a: &Authorized<AnalyticsRead>, id: RepoId) -> Result<RepoView> {
        let org = a.org_id()?;
        let r = {
            let mut c = self.store().acquire().await?;
            repos::get(&mut c.conn(), org, id).await?
        }
        .ok_or_else(no_repo)?;
        self.view(org, r).await
    }

    /// Changes a repository's sync configuration; bad globs are refused (422) and change
    /// nothing.
    pub async fn update_repo(
        &self,
        a: &Authorized<SyncConfigure>,
        id: RepoId,
        patch: &RepoPatch,
    ) -> Result<RepoView> {
        let org = a.org_id()?;
        if let Some(globs) = &patch.excluded_paths {
            if globs.len() > 100 {
                return Err(AppError::new(
                    ErrorKind::Invalid,
                    "invalid_field",
                    "excluded_paths holds at most 100 globs",
                )
                .with("field", "excluded_paths"));
            }
            Exclusions::new(globs).map_err(|e| {
                AppError::new(ErrorKind::Invalid, "invalid_field", e)
                    .with("field", "excluded_paths")
            })?;
        }
        let snapshot = self.entitlements_of(org).await;
        let now = self.clock().now();
        let mut tx = self.store().begin_write().await?;
        tx.conn().lock_key(&format!("repos:{org}")).await?;
        let current = repos::get(&mut tx.conn(), org, id)
            .await?
            .ok_or_else(no_repo)?;
        if patch.is_active == Some(true) && !current.is_active {
            let active = repos::count_active(&mut tx.conn(), org).await?;
            snapshot.ensure_limit(Limit::Repos, u64::try_from(active).unwrap_or(0), 1)?;
        }
        if let Some(active) = patch.is_active {
            repos::set_active(&mut tx.conn(), org, id, active, now).await?;
        }
        if let Some(globs) = &patch.excluded_paths {
            repos::set_excluded_paths(&mut tx.conn(), org, id, globs, now).await?;
        }
        tx.commit().await?;
        let r = {
            let mut c = self.store().acquire().await?;
            repos::get(&mut c.conn(), org, id).await?
        }
        .ok_or_else(no_repo)?;
        self.view(org, r).await
    }
}
