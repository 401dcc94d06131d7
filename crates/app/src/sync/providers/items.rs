//! The work item sync (analytics spec §7): Jira and Linear per integration, GitHub Issues per
//! repository. Statuses resolve with the org's `status_mappings` first (§7.1); items are
//! upserted by `(provider, external_key)` with their transitions replaced as a whole, people
//! resolved to identities, and `work_item_facts` recomputed for the items written.

use std::collections::HashMap;

use analytics::status_map::{OrgMappings, Provider, normalize};
use analytics::work_item::Status;
use chrono::{DateTime, FixedOffset, Utc};
use domain::{IntegrationId, OrgId, RepoId, SyncRunId};
use store::analytics::integrations::Integration;
use store::analytics::work_items::{self, Transition};
use store::analytics::{etags, repos, status_mappings};
use sync::providers::github::{self, GithubRepo};
use sync::providers::jira::{self, JiraSite};
use sync::providers::linear::{self, LinearWorkspace};
use sync::providers::pass::DEFAULT_LOOKBACK;
use sync::providers::records::WorkItem;
use sync::providers::{HttpClient, PassInput, ProviderKind, connection};

use super::{
    BATCH, Done, Position, ProviderSyncOptions, ProviderSyncSummary, Reporter, already_running,
    provider_error, resume_at, store_position, summary,
};
use crate::analytics::recompute_work_items;
use crate::sync::authors::People;
use crate::sync::integrations::settings_of;
use crate::sync::progress::{ProgressSink, Throttle};
use crate::{App, AppError, ErrorKind, Result};

/// What a work item pass reads.
enum Target {
    Jira,
    Linear,
    Github { repo_id: RepoId, repo: GithubRepo },
}

/// The org's `status_mappings` rows as the status resolution takes them.
pub(crate) fn org_mappings(rows: &[status_mappings::Mapping]) -> OrgMappings {
    let mut out = OrgMappings::default();
    for m in rows {
        let Some(status) = Status::ALL.into_iter().find(|s| s.as_str() == m.status) else {
            continue;
        };
        let raw = normalize(&m.raw_value);
        match (m.provider.as_str(), m.match_kind.as_str()) {
            ("github", "label") => {
                out.labels.insert(raw, status);
            }
            (p, "status") => {
                let provider = match p {
                    "jira" => Provider::Jira,
                    "linear" => Provider::Linear,
                    "github" => Provider::GithubIssues,
                    _ => continue,
                };
                out.statuses.insert((provider, raw), status);
            }
            _ => {}
        }
    }
    out
}

/// The offset to write Jira's JQL cursor in. Without a time zone database only UTC names are
/// known; any other zone gets UTC−12, the earliest offset in use, so the cursor can only read
/// too early (re-reading a few hours, which the upserts make harmless), never too late.
fn jira_offset(zone: Option<&str>) -> FixedOffset {
    let utc = matches!(zone, Some("UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Z"));
    let secs = if utc { 0 } else { -12 * 3600 };
    FixedOffset::east_opt(secs).unwrap_or_else(|| unreachable!("a valid offset"))
}

impl App {
    /// Syncs the work items of a Jira or Linear integration now, as a run (a GitHub
    /// integration's issues are synced per repository: [`App::sync_github_issues`]).
    pub async fn sync_work_items(
        &self,
        org: OrgId,
        integration_id: IntegrationId,
        opts: &ProviderSyncOptions,
        sink: &dyn ProgressSink,
    ) -> Result<ProviderSyncSummary> {
        let integration = self.stored_integration(org, integration_id).await?;
        let target = match integration.provider.as_str() {
            "jira" => Target::Jira,
            "linear" => Target::Linear,
            _ => {
                return Err(AppError::new(
                    ErrorKind::Invalid,
                    "not_a_work_item_integration",
                    "Work items come from Jira or Linear integrations; GitHub issues are \
                     synced per repository.",
                ));
            }
        };
        let at = Position {
            of: "integration",
            source: integration_id.as_uuid(),
            dataset: "work_items",
        };
        self.run_items(org, &integration, target, at, opts, sink)
            .await
    }

    /// Syncs a GitHub repository's issues now, as a run of the repository.
    pub async fn sync_github_issues(
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
        .ok_or_else(|| AppError::new(ErrorKind::NotFound, "not_found", "No such repository."))?;
        let integration = match (repo.provider.as_str(), repo.integration_id) {
            ("github", Some(id)) => self.stored_integration(org, id).await?,
            _ => {
                return Err(AppError::new(
                    ErrorKind::Invalid,
                    "no_integration",
                    "Issues are synced from repositories bound to a GitHub integration.",
                ));
            }
        };
        let (owner, name) = repo.full_name.split_once('/').unwrap_or_default();
        let target = Target::Github {
            repo_id,
            repo: GithubRepo {
                api: integration.base_url.clone().unwrap_or_default(),
                owner: owner.to_owned(),
                name: name.to_owned(),
            },
        };
        let at = Position {
            of: "repo",
            source: repo_id.as_uuid(),
            dataset: "work_items",
        };
        self.run_items(org, &integration, target, at, opts, sink)
            .await
    }

    async fn run_items(
        &self,
        org: OrgId,
        integration: &Integration,
        target: Target,
        at: Position,
        opts: &ProviderSyncOptions,
        sink: &dyn ProgressSink,
    ) -> Result<ProviderSyncSummary> {
        let (run, created) = self.open_provider_run(org, at, opts.trigger).await?;
        if !created {
            return Ok(already_running(&run, at));
        }
        let result = self
            .item_pass(org, integration, &target, at, run.id, opts, sink)
            .await;
        let result = self.limit_deferrals(org, at, result).await?;
        self.close_provider_run(org, at, run.id, &result).await?;
        summary(run.id, at, result)
    }

    #[allow(clippy::too_many_arguments)]
    async fn item_pass(
        &self,
        org: OrgId,
        integration: &Integration,
        target: &Target,
        at: Position,
        run_id: SyncRunId,
        opts: &ProviderSyncOptions,
        sink: &dyn ProgressSink,
    ) -> Result<Done> {
        let mut reporter = Reporter {
            app: self,
            org,
            run_id,
            sink,
            throttle: Throttle::counting("work_items"),
        };
        let kind = match target {
            Target::Jira => ProviderKind::Jira,
            Target::Linear => ProviderKind::Linear,
            Target::Github { .. } => ProviderKind::Github,
        };
        let auth = self.credential(org, integration)?;
        let http = HttpClient::new(kind, auth, opts.http.clone(), self.timekeeper(opts))
            .map_err(provider_error)?;
        let (cursor, checkpoint) = self.load_position(org, at).await?;
        let (tags, known, mappings) = {
            let mut c = self.store().acquire().await?;
            let tags = etags::load(&mut c.conn(), org, integration.id).await?;
            // Without a stored position (a first pass, or one a status-mapping change asked
            // for) every item is read again, stored or not, so it resolves with the mappings
            // of today; otherwise items unchanged since they were stored are skipped.
            let known: HashMap<String, DateTime<Utc>> = if cursor.is_none() && checkpoint.is_none()
            {
                HashMap::new()
            } else {
                work_items::updated_at_by_key(
                    &mut c.conn(),
                    org,
                    &integration.provider,
                    integration.id,
                )
                .await?
                .into_iter()
                .collect()
            };
            let rows = status_mappings::list(&mut c.conn(), org).await?;
            (tags, known, org_mappings(&rows))
        };
        reporter.report("listing", 0, None).await?;
        let input = PassInput {
            cursor,
            checkpoint: checkpoint.as_ref(),
            etags: &tags,
            known: &known,
            lookback: DEFAULT_LOOKBACK,
        };
        let base = integration.base_url.clone().unwrap_or_default();
        let pass = match target {
            Target::Jira => {
                let viewer = connection::test_connection(&http, &base)
                    .await
                    .map_err(provider_error)?;
                let s = settings_of(integration);
                let site = JiraSite {
                    base,
                    projects: s.projects,
                    story_points_field: s.story_points_field,
                    utc_offset: jira_offset(viewer.time_zone.as_deref()),
                };
                jira::issues(&http, &site, &mappings, input).await
            }
            Target::Linear => {
                let ws = LinearWorkspace { endpoint: base };
                linear::issues(&http, &ws, &mappings, input).await
            }
            Target::Github { repo, .. } => github::issues(&http, repo, &mappings, input).await,
        }
        .map_err(provider_error)?;

        let repo_id = match target {
            Target::Github { repo_id, .. } => Some(*repo_id),
            _ => None,
        };
        let total = pass.items.len() as u64;
        let mut people = People::new();
        let mut written = 0u64;
        let chunks: Vec<&[WorkItem]> = if pass.items.is_empty() {
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
            for item in chunk {
                let id = write_item(
                    &mut tx.conn(),
                    org,
                    integration.id,
                    repo_id,
                    item,
                    &mut people,
                    now,
                )
                .await?;
                touched.push(id);
            }
            recompute_work_items(&mut tx.conn(), org, &touched).await?;
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
}

/// Upserts one item and replaces its transitions; returns its id.
async fn write_item(
    conn: &mut store::Conn<'_>,
    org: OrgId,
    integration: IntegrationId,
    repo_id: Option<RepoId>,
    item: &WorkItem,
    people: &mut People,
    now: DateTime<Utc>,
) -> Result<domain::WorkItemId> {
    let assignee = match &item.assignee {
        Some(o) => people.resolve(conn, org, o, now).await?,
        None => None,
    };
    let reporter = match &item.reporter {
        Some(o) => people.resolve(conn, org, o, now).await?,
        None => None,
    };
    let row = work_items::WorkItem {
        provider: item.provider.as_str().to_owned(),
        external_key: item.external_key.clone(),
        integration_id: Some(integration),
        repo_id,
        project_key: Some(item.project_key.clone()),
        title: item.title.clone(),
        item_type: item.item_type.as_str().to_owned(),
        type_raw: item.type_raw.clone(),
        status: item.status.as_str().to_owned(),
        status_raw: Some(item.status_raw.clone()),
        status_source: Some(item.status_source.as_str().to_owned()),
        resolution_raw: item.resolution_raw.clone(),
        labels: item.labels.clone(),
        assignee_identity_id: assignee,
        reporter_identity_id: reporter,
        story_points: item.story_points,
        parent_key: item.parent_key.clone(),
        url: item.url.clone(),
        created_at: item.created_at,
        updated_at: item.updated_at,
        deleted_at: None,
    };
    let id = work_items::upsert(conn, org, &row).await?;
    let mut ordered: Vec<_> = item.transitions.iter().collect();
    ordered.sort_by_key(|t| t.seq);
    let mut transitions = Vec::with_capacity(ordered.len());
    for t in ordered {
        let actor = match &t.actor {
            Some(o) => people.resolve(conn, org, o, now).await?,
            None => None,
        };
        transitions.push(Transition {
            occurred_at: t.occurred_at,
            from_status: t.from_status.map(|s| s.as_str().to_owned()),
            to_status: t.to_status.as_str().to_owned(),
            from_raw: t.from_raw.clone(),
            to_raw: t.to_raw.clone(),
            actor_identity_id: actor,
            source: t.source.as_str().to_owned(),
        });
    }
    work_items::replace_transitions(conn, org, id, &transitions).await?;
    Ok(id)
}
