//! Rows for the metric tests: orgs, repos, identities and commits are written with plain SQL
//! (their repositories belong to the sync work), PRs, work items and teams through the store's
//! analytics repositories, and the facts through the recompute sync calls.
#![allow(dead_code)]

use std::sync::Arc;

use app::App;
use app::analytics::{MetricAnswer, MetricQuery};
use app::authz::{Credential, Principal, authorize};
use chrono::{DateTime, TimeZone, Utc};
use domain::permission::marker::AnalyticsRead;
use domain::{IdentityId, ManualClock, OrgId, RepoId, Role, UserId, WorkItemId};
use store::analytics::pull_requests::{self, PrCommit, PullRequest, Review};
use store::analytics::work_items::{self, Transition, WorkItem};
use store::{Id, Store, Ts, on_conn, sqlx};

pub const H: f64 = 3600.0;

/// 2024-03-`d` `h`:`m` UTC, the month of the §9.7 vectors.
pub fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, d, h, m, 0).unwrap()
}

pub fn app(store: &Store) -> App {
    App::new(
        store.clone(),
        Arc::new(ManualClock::new(at(31, 12, 0))),
        app::identity::IdentityConfig::ephemeral("http://127.0.0.1:8000"),
    )
}

pub async fn org(store: &Store, slug: &str) -> OrgId {
    org_with(store, OrgId::new(), slug).await
}

pub async fn org_with(store: &Store, id: OrgId, slug: &str) -> OrgId {
    let mut c = store.acquire().await.unwrap();
    store::identity::orgs::insert(&mut c.conn(), id, slug, slug, at(1, 0, 0))
        .await
        .unwrap();
    id
}

pub async fn repo(store: &Store, org: OrgId, name: &str) -> RepoId {
    repo_with(store, org, RepoId::new(), name).await
}

pub async fn repo_with(store: &Store, org: OrgId, id: RepoId, name: &str) -> RepoId {
    let mut c = store.acquire().await.unwrap();
    on_conn!(&mut c.conn(), c => sqlx::query(
        "INSERT INTO repos (org_id, id, provider, full_name, is_active, excluded_paths, \
         created_at, updated_at) VALUES ($1, $2, 'github', $3, TRUE, '[]', $4, $4)")
        .bind(Id::from(org)).bind(Id::from(id)).bind(name).bind(Ts::new(at(1, 0, 0)))
        .execute(&mut *c).await.map(|_| ()))
    .unwrap();
    id
}

pub async fn identity(store: &Store, org: OrgId, name: &str, is_bot: bool) -> IdentityId {
    identity_with(store, org, IdentityId::new(), name, is_bot).await
}

pub async fn identity_with(
    store: &Store,
    org: OrgId,
    id: IdentityId,
    name: &str,
    is_bot: bool,
) -> IdentityId {
    let mut c = store.acquire().await.unwrap();
    on_conn!(&mut c.conn(), c => sqlx::query(
        "INSERT INTO identities (org_id, id, display_name, is_bot, created_at) \
         VALUES ($1, $2, $3, $4, $5)")
        .bind(Id::from(org)).bind(Id::from(id)).bind(name).bind(is_bot)
        .bind(Ts::new(at(1, 0, 0)))
        .execute(&mut *c).await.map(|_| ()))
    .unwrap();
    id
}

/// One numstat line: path, additions, deletions, binary, excluded.
pub type File<'a> = (&'a str, i64, i64, bool, bool);

#[allow(clippy::too_many_arguments)]
pub async fn commit(
    store: &Store,
    org: OrgId,
    repo: RepoId,
    sha: &str,
    author: Option<IdentityId>,
    committed_at: DateTime<Utc>,
    parents: i64,
    files: &[File<'_>],
) {
    let mut c = store.acquire().await.unwrap();
    let mut conn = c.conn();
    on_conn!(&mut conn, c => sqlx::query(
        "INSERT INTO commits (org_id, repo_id, sha, author_name, author_email, \
         author_identity_id, authored_at, committer_name, committer_email, committed_at, \
         parent_count, subject, additions, deletions, files_changed, stats_state) \
         VALUES ($1, $2, $3, 'a', 'a@example.com', $4, $5, 'a', 'a@example.com', $5, $6, 's', \
         0, 0, 0, 'complete')")
        .bind(Id::from(org)).bind(Id::from(repo)).bind(sha).bind(author.map(Id::from))
        .bind(Ts::new(committed_at)).bind(parents)
        .execute(&mut *c).await.map(|_| ()))
    .unwrap();
    for (path, add, del, binary, excluded) in files {
        on_conn!(&mut conn, c => sqlx::query(
            "INSERT INTO commit_files (org_id, repo_id, sha, path, additions, deletions, \
             is_binary, change, is_excluded) VALUES ($1, $2, $3, $4, $5, $6, $7, 'M', $8)")
            .bind(Id::from(org)).bind(Id::from(repo)).bind(sha).bind(*path).bind(*add)
            .bind(*del).bind(*binary).bind(*excluded)
            .execute(&mut *c).await.map(|_| ()))
        .unwrap();
    }
}

/// A PR with the given times; sizes complete.
pub fn pr(
    repo: RepoId,
    number: i64,
    author: Option<IdentityId>,
    created_at: DateTime<Utc>,
    merged_at: Option<DateTime<Utc>>,
) -> PullRequest {
    PullRequest {
        repo_id: repo,
        number,
        provider: "github".into(),
        external_id: None,
        title: format!("PR {number}"),
        state: if merged_at.is_some() {
            "merged"
        } else {
            "open"
        }
        .into(),
        is_draft: false,
        author_login: Some("alice".into()),
        author_identity_id: author,
        head_ref: None,
        base_ref: Some("main".into()),
        labels: vec![],
        created_at,
        updated_at: merged_at.unwrap_or(created_at),
        first_commit_at: None,
        first_review_at: None,
        first_comment_at: None,
        last_approval_at: None,
        merged_at,
        closed_at: merged_at,
        merge_commit_sha: None,
        additions: Some(30),
        deletions: Some(5),
        changed_files: Some(2),
        commit_count: Some(1),
        size_state: "complete".into(),
    }
}

pub fn review(
    id: &str,
    who: Option<IdentityId>,
    login: &str,
    state: &str,
    t: DateTime<Utc>,
    is_self: bool,
) -> Review {
    Review {
        review_id: id.into(),
        reviewer_login: Some(login.into()),
        reviewer_identity_id: who,
        state: state.into(),
        submitted_at: t,
        is_self,
    }
}

/// Writes a PR with its first commit and reviews, then recomputes its facts.
pub async fn write_pr(
    store: &Store,
    org: OrgId,
    p: &PullRequest,
    first_commit: Option<DateTime<Utc>>,
    reviews: &[Review],
) {
    let mut c = store.acquire().await.unwrap();
    let mut conn = c.conn();
    pull_requests::upsert(&mut conn, org, p).await.unwrap();
    if let Some(t) = first_commit {
        let commits = [PrCommit {
            sha: format!("pc{}", p.number),
            authored_at: t,
        }];
        pull_requests::upsert_commits(&mut conn, org, p.repo_id, p.number, &commits)
            .await
            .unwrap();
    }
    pull_requests::upsert_reviews(&mut conn, org, p.repo_id, p.number, reviews)
        .await
        .unwrap();
    app::analytics::recompute_pull_requests(&mut conn, org, &[(p.repo_id, p.number)])
        .await
        .unwrap();
}

pub fn item(
    key: &str,
    project: Option<&str>,
    assignee: Option<IdentityId>,
    created: DateTime<Utc>,
    status: &str,
) -> WorkItem {
    WorkItem {
        provider: "jira".into(),
        external_key: key.into(),
        integration_id: None,
        repo_id: None,
        project_key: project.map(str::to_owned),
        title: key.into(),
        item_type: "story".into(),
        type_raw: None,
        status: status.into(),
        status_raw: None,
        status_source: None,
        resolution_raw: None,
        labels: vec![],
        assignee_identity_id: assignee,
        reporter_identity_id: None,
        story_points: None,
        parent_key: None,
        url: None,
        created_at: created,
        updated_at: created,
        deleted_at: None,
    }
}

pub fn tr(from: &str, to: &str, t: DateTime<Utc>) -> Transition {
    Transition {
        occurred_at: t,
        from_status: Some(from.into()),
        to_status: to.into(),
        from_raw: None,
        to_raw: None,
        actor_identity_id: None,
        source: "changelog".into(),
    }
}

/// Writes an item with its transitions, then recomputes its facts.
pub async fn write_item(store: &Store, org: OrgId, w: &WorkItem, ts: &[Transition]) -> WorkItemId {
    let mut c = store.acquire().await.unwrap();
    let mut conn = c.conn();
    let id = work_items::upsert(&mut conn, org, w).await.unwrap();
    work_items::replace_transitions(&mut conn, org, id, ts)
        .await
        .unwrap();
    app::analytics::recompute_work_items(&mut conn, org, &[id])
        .await
        .unwrap();
    id
}

pub fn viewer(org: OrgId) -> app::authz::Authorized<AnalyticsRead> {
    let p = Principal {
        user_id: UserId::new(),
        membership: Some((org, Role::Viewer)),
        platform_admin: false,
        credential: Credential::Session,
        credential_id: uuid::Uuid::nil(),
    };
    authorize::<AnalyticsRead>(Some(&p)).unwrap()
}

/// A query over `from..=to` (`YYYY-MM-DD`) with `grain`.
pub fn q(from: &str, to: &str, grain: &str) -> MetricQuery {
    MetricQuery {
        from: Some(from.into()),
        to: Some(to.into()),
        grain: Some(grain.into()),
        ..MetricQuery::default()
    }
}

pub async fn metric(app: &App, org: OrgId, key: &str, query: &MetricQuery) -> MetricAnswer {
    app.metric(&viewer(org), key, query)
        .await
        .unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// The summary statistic `stat` as f64 (null → NaN).
pub fn sum(a: &MetricAnswer, stat: &str) -> f64 {
    a.summary
        .get(stat)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(f64::NAN)
}

pub fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}
