//! The org's status mappings (analytics spec §7.1 "Remapping"): the raw statuses and labels the
//! stored work items carry, each with the status it resolved to and the rule that gave it, and
//! editing the org's own mapping rows.
//!
//! Saving a mapping re-normalises through the connectors rather than in place: the work-item
//! positions of the provider's sources are forgotten and a run of each is queued, so every
//! item and its transitions are read again and resolved with the new mapping by the same code
//! that resolved them first. In-place re-normalisation would need every input the connectors
//! use (Jira and Linear categories per transition, GitHub's label history), which the store
//! does not keep. See docs/ARCHITECTURE.md, "Status mappings".

use std::collections::BTreeMap;

use analytics::status_map::normalize;
use analytics::work_item::Status;
use domain::OrgId;
use domain::permission::marker::{AnalyticsRead, SyncConfigure};
use serde::Serialize;
use store::analytics::status_mappings::{self, Mapping};
use store::analytics::sync_runs::SyncRun;
use store::analytics::{cursors, etags, work_items};

use super::runs::queue_work_items;
use crate::authz::Authorized;
use crate::{App, AppError, ErrorKind, Result};

/// One mapping row as the API shows and takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusMappingView {
    /// `jira`, `linear` or `github` (GitHub Issues).
    pub provider: String,
    /// `status` (a Jira or Linear status name) or `label` (a GitHub label).
    #[serde(rename = "match")]
    pub match_kind: String,
    /// The raw value, stored trimmed, lower-cased and with whitespace collapsed.
    pub raw: String,
    /// `backlog`, `todo`, `in_progress`, `in_review`, `blocked`, `done` or `canceled`.
    pub status: String,
}

/// A raw value the org's items carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedValue {
    /// `jira`, `linear` or `github`.
    pub provider: String,
    /// `status` or `label`.
    #[serde(rename = "match")]
    pub match_kind: String,
    /// The raw value as the provider sends it.
    pub raw: String,
    /// What it resolves to today (labels: null; an open issue's status weighs all its labels).
    pub status: Option<String>,
    /// The rule that gave it (`org_status`, `builtin_name`, `category`, `unmapped`, …); null
    /// for labels and for items synced before rules were recorded.
    pub source: Option<String>,
    /// True when no rule matched (`todo` if open, `done` if closed): map it.
    pub unmapped: bool,
    /// Live items carrying it.
    pub items: i64,
}

/// The status-mapping page's data.
#[derive(Debug, Clone, Serialize)]
pub struct StatusMappings {
    /// The org's own rows, which win over the built-in tables.
    pub mappings: Vec<StatusMappingView>,
    /// Every raw status (and open GitHub issues' labels) the stored items carry.
    pub observed: Vec<ObservedValue>,
}

/// What saving or removing a mapping did.
#[derive(Debug, Clone, Serialize)]
pub struct RemapOutcome {
    /// The row as stored (absent after a removal).
    pub mapping: Option<StatusMappingView>,
    /// The runs queued to read the provider's items again (or already queued or running).
    pub runs: Vec<SyncRun>,
}

fn invalid(field: &'static str, message: &str) -> AppError {
    AppError::new(ErrorKind::Invalid, "invalid_field", message.to_owned()).with("field", field)
}

/// Checks a mapping's key and normalises its raw value.
fn key(provider: &str, match_kind: &str, raw: &str) -> Result<(String, String, String)> {
    if !matches!(provider, "jira" | "linear" | "github") {
        return Err(invalid(
            "provider",
            "provider must be jira, linear or github",
        ));
    }
    // A GitHub issue has no status name, only open/closed and labels (§7.1): its mappings are
    // label mappings; Jira and Linear map status names.
    match (provider, match_kind) {
        ("github", "label") | ("jira" | "linear", "status") => {}
        ("github", _) => return Err(invalid("match", "github maps labels: match must be label")),
        _ => {
            return Err(invalid(
                "match",
                "jira and linear map statuses: match must be status",
            ));
        }
    }
    let raw = normalize(raw);
    if raw.is_empty() || raw.chars().count() > 200 {
        return Err(invalid("raw", "raw must hold 1 to 200 characters"));
    }
    Ok((provider.to_owned(), match_kind.to_owned(), raw))
}

fn view(m: Mapping) -> StatusMappingView {
    StatusMappingView {
        provider: m.provider,
        match_kind: m.match_kind,
        raw: m.raw_value,
        status: m.status,
    }
}

impl App {
    /// The org's mappings and the raw values its items carry.
    pub async fn status_mappings(&self, a: &Authorized<AnalyticsRead>) -> Result<StatusMappings> {
        let org = a.org_id()?;
        let mut c = self.store().acquire().await?;
        let mappings = status_mappings::list(&mut c.conn(), org).await?;
        let statuses = work_items::observed_statuses(&mut c.conn(), org).await?;
        let label_sets = work_items::open_github_labels(&mut c.conn(), org).await?;
        let mut observed: Vec<ObservedValue> = statuses
            .into_iter()
            .map(|o| ObservedValue {
                unmapped: o.status_source.as_deref() == Some("unmapped"),
                provider: o.provider,
                match_kind: "status".to_owned(),
                raw: o.status_raw.unwrap_or_default(),
                status: Some(o.status),
                source: o.status_source,
                items: o.items,
            })
            .collect();
        let mut labels: BTreeMap<String, i64> = BTreeMap::new();
        for set in label_sets {
            for l in set {
                *labels.entry(l).or_default() += 1;
            }
        }
        observed.extend(labels.into_iter().map(|(raw, items)| ObservedValue {
            provider: "github".to_owned(),
            match_kind: "label".to_owned(),
            raw,
            status: None,
            source: None,
            unmapped: false,
            items,
        }));
        Ok(StatusMappings {
            mappings: mappings.into_iter().map(view).collect(),
            observed,
        })
    }

    /// Saves a mapping (replacing the row for the same raw value) and queues the re-read of
    /// the provider's items.
    pub async fn set_status_mapping(
        &self,
        a: &Authorized<SyncConfigure>,
        input: &StatusMappingView,
    ) -> Result<RemapOutcome> {
        let org = a.org_id()?;
        let (provider, match_kind, raw_value) =
            key(&input.provider, &input.match_kind, &input.raw)?;
        let status = Status::ALL
            .into_iter()
            .find(|s| s.as_str() == input.status)
            .ok_or_else(|| {
                invalid(
                    "status",
                    "status must be backlog, todo, in_progress, in_review, blocked, done or canceled",
                )
            })?;
        let row = Mapping {
            provider,
            match_kind,
            raw_value,
            status: status.as_str().to_owned(),
        };
        let mut tx = self.store().begin_write().await?;
        status_mappings::set(&mut tx.conn(), org, &row).await?;
        let runs = self.renormalize(&mut tx.conn(), org, &row.provider).await?;
        tx.commit().await?;
        tracing::info!(actor = %a.principal().user_id, %org, provider = %row.provider,
            r#match = %row.match_kind, raw = %row.raw_value, status = %row.status,
            "audit: status_mapping.set");
        Ok(RemapOutcome {
            mapping: Some(view(row)),
            runs,
        })
    }

    /// Removes a mapping (404 when there is none) and queues the re-read of the provider's
    /// items.
    pub async fn delete_status_mapping(
        &self,
        a: &Authorized<SyncConfigure>,
        provider: &str,
        match_kind: &str,
        raw: &str,
    ) -> Result<RemapOutcome> {
        let org = a.org_id()?;
        let (provider, match_kind, raw_value) = key(provider, match_kind, raw)?;
        let mut tx = self.store().begin_write().await?;
        if !status_mappings::delete(&mut tx.conn(), org, &provider, &match_kind, &raw_value).await?
        {
            return Err(AppError::new(
                ErrorKind::NotFound,
                "not_found",
                "No such status mapping.",
            ));
        }
        let runs = self.renormalize(&mut tx.conn(), org, &provider).await?;
        tx.commit().await?;
        tracing::info!(actor = %a.principal().user_id, %org, %provider, r#match = %match_kind,
            raw = %raw_value, "audit: status_mapping.deleted");
        Ok(RemapOutcome {
            mapping: None,
            runs,
        })
    }

    /// Forgets the positions (and list ETags) of every source of `provider`'s items and
    /// queues a run of each, so they are read and resolved again.
    async fn renormalize(
        &self,
        conn: &mut store::Conn<'_>,
        org: OrgId,
        provider: &str,
    ) -> Result<Vec<SyncRun>> {
        let now = self.clock().now();
        let sources = work_items::sources_of(conn, org, provider).await?;
        let ids: Vec<uuid::Uuid> = sources
            .iter()
            .filter_map(|(repo, i)| repo.map(|r| r.as_uuid()).or(i.map(|i| i.as_uuid())))
            .collect();
        cursors::forget_work_items(conn, org, &ids).await?;
        // GitHub integrations also hold the pull request lists' ETags; keep those.
        let part = if provider == "github" { "/issues" } else { "" };
        let mut integrations: Vec<_> = sources.iter().filter_map(|(_, i)| *i).collect();
        integrations.sort_unstable_by_key(|i| i.as_uuid());
        integrations.dedup();
        for i in integrations {
            etags::forget(conn, org, i, part).await?;
        }
        let mut runs = Vec::with_capacity(sources.len());
        for source in sources {
            if let Some((run, _)) = queue_work_items(conn, org, source, now).await? {
                runs.push(run);
            }
        }
        Ok(runs)
    }
}
