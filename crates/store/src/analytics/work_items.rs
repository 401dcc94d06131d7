//! `work_items` and `work_item_transitions` (analytics spec §2.1, §7): an item is upserted by
//! its natural key `(org, provider, external_key)` and its status history is replaced as a
//! whole, so a re-sync converges on the provider's history instead of appending to it.

use chrono::{DateTime, Utc};
use domain::{IdentityId, IntegrationId, OrgId, RepoId, WorkItemId};

use crate::{Conn, Id, JsonText, Result, Ts, on_conn};

/// A work item as a sync writes it. Statuses and types are the normalised names of §7.1.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkItem {
    /// `jira`, `linear` or `github`.
    pub provider: String,
    /// `ABC-123`, `owner/repo#12`, `ENG-42`.
    pub external_key: String,
    /// The integration it came from.
    pub integration_id: Option<IntegrationId>,
    /// The repository (GitHub Issues only).
    pub repo_id: Option<RepoId>,
    /// Jira project key, Linear team key or GitHub `owner/repo`: matched by teams' globs.
    pub project_key: Option<String>,
    /// Title.
    pub title: String,
    /// `story|task|bug|epic|incident|chore|issue`.
    pub item_type: String,
    /// The provider's type name.
    pub type_raw: Option<String>,
    /// Normalised current status.
    pub status: String,
    /// The provider's status name.
    pub status_raw: Option<String>,
    /// Which rule of §7.1 gave `status` (`status_map::Source::as_str`).
    pub status_source: Option<String>,
    /// The provider's resolution.
    pub resolution_raw: Option<String>,
    /// Labels.
    pub labels: Vec<String>,
    /// The assignee: the person work-item metrics are attributed to.
    pub assignee_identity_id: Option<IdentityId>,
    /// The reporter.
    pub reporter_identity_id: Option<IdentityId>,
    /// Estimate.
    pub story_points: Option<f64>,
    /// The parent's key.
    pub parent_key: Option<String>,
    /// Link.
    pub url: Option<String>,
    /// Created at the provider.
    pub created_at: DateTime<Utc>,
    /// Last change at the provider.
    pub updated_at: DateTime<Utc>,
    /// Deleted at the provider (left out of every metric).
    pub deleted_at: Option<DateTime<Utc>>,
}

/// One status change, in the provider's order (`seq` is its position in the slice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Normalised status before (unknown for the first change of some providers).
    pub from_status: Option<String>,
    /// Normalised status after.
    pub to_status: String,
    /// Raw name before, kept so statuses can be re-mapped.
    pub from_raw: Option<String>,
    /// Raw name after.
    pub to_raw: Option<String>,
    /// Who made the change.
    pub actor_identity_id: Option<IdentityId>,
    /// `changelog`, `history`, `event` or `synthetic`.
    pub source: String,
}

/// Inserts or updates an item by `(org, provider, external_key)`; returns its id (kept across
/// re-syncs).
pub async fn upsert(conn: &mut Conn<'_>, org: OrgId, item: &WorkItem) -> Result<WorkItemId> {
    let id: Id = on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO work_items (org_id, id, provider, external_key, integration_id, repo_id, \
         project_key, title, type, type_raw, status, status_raw, resolution_raw, labels, \
         assignee_identity_id, reporter_identity_id, story_points, parent_key, url, created_at, \
         updated_at, deleted_at, status_source) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $23) \
         ON CONFLICT (org_id, provider, external_key) DO UPDATE SET \
         integration_id = excluded.integration_id, repo_id = excluded.repo_id, \
         project_key = excluded.project_key, title = excluded.title, type = excluded.type, \
         type_raw = excluded.type_raw, status = excluded.status, \
         status_raw = excluded.status_raw, resolution_raw = excluded.resolution_raw, \
         labels = excluded.labels, assignee_identity_id = excluded.assignee_identity_id, \
         reporter_identity_id = excluded.reporter_identity_id, \
         story_points = excluded.story_points, parent_key = excluded.parent_key, \
         url = excluded.url, created_at = excluded.created_at, \
         updated_at = excluded.updated_at, deleted_at = excluded.deleted_at, \
         status_source = excluded.status_source \
         RETURNING id")
        .bind(Id::from(org)).bind(Id::from(WorkItemId::new())).bind(&item.provider)
        .bind(&item.external_key).bind(item.integration_id.map(Id::from))
        .bind(item.repo_id.map(Id::from)).bind(&item.project_key).bind(&item.title)
        .bind(&item.item_type).bind(&item.type_raw).bind(&item.status).bind(&item.status_raw)
        .bind(&item.resolution_raw).bind(JsonText(&item.labels))
        .bind(item.assignee_identity_id.map(Id::from))
        .bind(item.reporter_identity_id.map(Id::from)).bind(item.story_points)
        .bind(&item.parent_key).bind(&item.url).bind(Ts::new(item.created_at))
        .bind(Ts::new(item.updated_at)).bind(item.deleted_at.map(Ts::new))
        .bind(&item.status_source)
        .fetch_one(&mut *c).await)?;
    Ok(id.into())
}

/// Replaces the item's transitions with `transitions` (`seq` = position).
pub async fn replace_transitions(
    conn: &mut Conn<'_>,
    org: OrgId,
    item: WorkItemId,
    transitions: &[Transition],
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "DELETE FROM work_item_transitions WHERE org_id = $1 AND work_item_id = $2")
        .bind(Id::from(org)).bind(Id::from(item))
        .execute(&mut *c).await.map(|_| ()))?;
    for (seq, t) in transitions.iter().enumerate() {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        on_conn!(conn, c => sqlx::query(
            "INSERT INTO work_item_transitions (org_id, work_item_id, seq, occurred_at, \
             from_status, to_status, from_raw, to_raw, actor_identity_id, source) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(Id::from(org)).bind(Id::from(item)).bind(seq).bind(Ts::new(t.occurred_at))
            .bind(&t.from_status).bind(&t.to_status).bind(&t.from_raw).bind(&t.to_raw)
            .bind(t.actor_identity_id.map(Id::from)).bind(&t.source)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// What the work item fact recompute needs of one item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemTimeline {
    /// The item.
    pub id: WorkItemId,
    /// Its project key (team attribution).
    pub project_key: Option<String>,
    /// Its assignee (team attribution when no team claims the project).
    pub assignee_identity_id: Option<IdentityId>,
    /// Normalised current status.
    pub status: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Transitions as `(occurred_at, from_status, to_status)` in `seq` order.
    pub transitions: Vec<(DateTime<Utc>, Option<String>, String)>,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: Id,
    project_key: Option<String>,
    assignee_identity_id: Option<Id>,
    status: String,
    created_at: Ts,
}

/// The item's timeline, `None` when it does not exist in this org.
pub async fn timeline(
    conn: &mut Conn<'_>,
    org: OrgId,
    item: WorkItemId,
) -> Result<Option<ItemTimeline>> {
    let row: Option<ItemRow> = on_conn!(conn, c => sqlx::query_as(
        "SELECT id, project_key, assignee_identity_id, status, created_at FROM work_items \
         WHERE org_id = $1 AND id = $2")
        .bind(Id::from(org)).bind(Id::from(item)).fetch_optional(&mut *c).await)?;
    let Some(r) = row else { return Ok(None) };
    let transitions = transitions_of(conn, org, item).await?;
    Ok(Some(ItemTimeline {
        id: r.id.into(),
        project_key: r.project_key,
        assignee_identity_id: r.assignee_identity_id.map(Into::into),
        status: r.status,
        created_at: r.created_at.get(),
        transitions,
    }))
}

/// The item's transitions as `(occurred_at, from_status, to_status)` in `seq` order.
pub async fn transitions_of(
    conn: &mut Conn<'_>,
    org: OrgId,
    item: WorkItemId,
) -> Result<Vec<(DateTime<Utc>, Option<String>, String)>> {
    let rows: Vec<(Ts, Option<String>, String)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT occurred_at, from_status, to_status FROM work_item_transitions \
         WHERE org_id = $1 AND work_item_id = $2 ORDER BY seq")
        .bind(Id::from(org)).bind(Id::from(item)).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(|(t, f, s)| (t.get(), f, s)).collect())
}

/// Items created, changed or completed in `[from, to)`: what `metrics recompute` rebuilds.
/// An item's facts depend only on its own rows, so items outside the range are unaffected.
pub async fn ids_in_range(
    conn: &mut Conn<'_>,
    org: OrgId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<WorkItemId>> {
    let rows: Vec<Id> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT w.id FROM work_items w WHERE w.org_id = $1 \
         AND ((w.created_at >= $2 AND w.created_at < $3) \
          OR (w.updated_at >= $2 AND w.updated_at < $3) \
          OR EXISTS (SELECT 1 FROM work_item_transitions t WHERE t.org_id = w.org_id \
             AND t.work_item_id = w.id AND t.occurred_at >= $2 AND t.occurred_at < $3)) \
         ORDER BY w.id")
        .bind(Id::from(org)).bind(Ts::new(from)).bind(Ts::new(to))
        .fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The stored `updated_at` of every item of a provider and integration, by external key: the
/// `known` map a provider pass compares listed items with (§3.2).
pub async fn updated_at_by_key(
    conn: &mut Conn<'_>,
    org: OrgId,
    provider: &str,
    integration: IntegrationId,
) -> Result<Vec<(String, DateTime<Utc>)>> {
    let rows: Vec<(String, Ts)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT external_key, updated_at FROM work_items WHERE org_id = $1 AND provider = $2 \
         AND integration_id = $3 ORDER BY external_key")
        .bind(Id::from(org)).bind(provider).bind(Id::from(integration))
        .fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(|(k, t)| (k, t.get())).collect())
}

/// `(items, transitions)` stored for a provider and integration, for summaries and tests.
pub async fn row_counts(
    conn: &mut Conn<'_>,
    org: OrgId,
    provider: &str,
    integration: IntegrationId,
) -> Result<(i64, i64)> {
    let items: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM work_items WHERE org_id = $1 AND provider = $2 \
         AND integration_id = $3")
        .bind(Id::from(org)).bind(provider).bind(Id::from(integration))
        .fetch_one(&mut *c).await)?;
    let transitions: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM work_item_transitions t JOIN work_items w \
         ON w.org_id = t.org_id AND w.id = t.work_item_id \
         WHERE t.org_id = $1 AND w.provider = $2 AND w.integration_id = $3")
        .bind(Id::from(org)).bind(provider).bind(Id::from(integration))
        .fetch_one(&mut *c).await)?;
    Ok((items, transitions))
}

/// One raw status as the org's stored items carry it (the status-mapping view, §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedStatus {
    /// `jira`, `linear` or `github`.
    pub provider: String,
    /// The provider's status name (GitHub: `open`/`closed`).
    pub status_raw: Option<String>,
    /// The normalised status it resolved to.
    pub status: String,
    /// Which rule gave it; `None` for items synced before the rule was recorded.
    pub status_source: Option<String>,
    /// How many live items carry it.
    pub items: i64,
}

/// Every (provider, raw status, result, rule) of the org's live items, with counts.
pub async fn observed_statuses(conn: &mut Conn<'_>, org: OrgId) -> Result<Vec<ObservedStatus>> {
    type Row = (String, Option<String>, String, Option<String>, i64);
    let rows: Vec<Row> = on_conn!(conn, c => sqlx::query_as(
        "SELECT provider, status_raw, status, status_source, COUNT(*) FROM work_items \
         WHERE org_id = $1 AND deleted_at IS NULL \
         GROUP BY provider, status_raw, status, status_source \
         ORDER BY provider, status_raw, status")
        .bind(Id::from(org)).fetch_all(&mut *c).await)?;
    Ok(rows
        .into_iter()
        .map(
            |(provider, status_raw, status, status_source, items)| ObservedStatus {
                provider,
                status_raw,
                status,
                status_source,
                items,
            },
        )
        .collect())
}

/// The label sets of the org's live open GitHub issues (labels drive their status, §7.1).
pub async fn open_github_labels(conn: &mut Conn<'_>, org: OrgId) -> Result<Vec<Vec<String>>> {
    let rows: Vec<JsonText<Vec<String>>> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT labels FROM work_items WHERE org_id = $1 AND provider = 'github' \
         AND deleted_at IS NULL AND status_raw = 'open'")
        .bind(Id::from(org)).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(|JsonText(l)| l).collect())
}

/// Where a provider's items were synced from: `(repo, integration)` pairs; the repository is
/// set for GitHub issues, whose sync position is the repository's.
pub async fn sources_of(
    conn: &mut Conn<'_>,
    org: OrgId,
    provider: &str,
) -> Result<Vec<(Option<RepoId>, Option<IntegrationId>)>> {
    let rows: Vec<(Option<Id>, Option<Id>)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT DISTINCT repo_id, integration_id FROM work_items \
         WHERE org_id = $1 AND provider = $2")
        .bind(Id::from(org)).bind(provider).fetch_all(&mut *c).await)?;
    Ok(rows
        .into_iter()
        .map(|(r, i)| (r.map(Into::into), i.map(Into::into)))
        .collect())
}
