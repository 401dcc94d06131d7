//! Repositories and sync runs (analytics spec §3.1, §14): read with `analytics:read`, configure
//! with `sync:configure` (the `repos` limit applies when a repository is switched on), "Sync
//! now" with `sync:run` (202 with the queued run, or the one already queued or running). The
//! org is always the caller's; ids of another org answer 404.

use app::sync::RepoPatch;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::permission::marker::{AnalyticsRead, SyncConfigure, SyncRun};
use domain::{RepoId, SyncRunId};
use serde::Deserialize;
use utoipa_axum::routes;

use super::auth::private;
use crate::access::{Access, Routes};
use crate::extract::{ApiJson, ApiQuery, PathId};
use crate::{ApiError, AppState, Auth};

type Answer = Result<Response, ApiError>;

/// The org's repositories with their last run.
#[utoipa::path(get, path = "/api/v1/repos", tag = "sync",
    responses((status = 200, description = "`{data:[{id, provider, full_name, default_branch, is_active, excluded_paths, last_run}]}`")))]
async fn list_repos(State(s): State<AppState>, Auth(a): Auth<AnalyticsRead>) -> Answer {
    let data = s.app.repos(&a).await?;
    Ok(private(StatusCode::OK, serde_json::json!({ "data": data })))
}

/// One repository with its last run.
#[utoipa::path(get, path = "/api/v1/repos/{id}", tag = "sync",
    params(("id" = String, Path, description = "Repository id")),
    responses((status = 200, description = "The repository"), (status = 404, description = "not_found")))]
async fn get_repo(
    State(s): State<AppState>,
    Auth(a): Auth<AnalyticsRead>,
    PathId(id): PathId,
) -> Answer {
    Ok(private(
        StatusCode::OK,
        s.app.repo(&a, RepoId::from_uuid(id)).await?,
    ))
}

/// Switches syncing on or off, or replaces the excluded path globs.
#[utoipa::path(patch, path = "/api/v1/repos/{id}", tag = "sync",
    params(("id" = String, Path, description = "Repository id")),
    request_body(content = serde_json::Value, description = "`{is_active?, excluded_paths?}`"),
    responses((status = 200, description = "The repository"), (status = 402, description = "limit_exceeded (repos)"),
        (status = 404, description = "not_found"), (status = 422, description = "invalid_field")))]
async fn update_repo(
    State(s): State<AppState>,
    Auth(a): Auth<SyncConfigure>,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<RepoPatch>,
) -> Answer {
    Ok(private(
        StatusCode::OK,
        s.app.update_repo(&a, RepoId::from_uuid(id), &patch).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunsQuery {
    status: Option<String>,
    since: Option<DateTime<Utc>>,
    limit: Option<u32>,
}

/// The org's sync runs, newest first.
#[utoipa::path(get, path = "/api/v1/sync-runs", tag = "sync",
    params(("status" = Option<String>, Query, description = "queued, running, succeeded, partial, failed, deferred or canceled"),
        ("since" = Option<String>, Query, description = "RFC 3339: runs created at or after"),
        ("limit" = Option<u32>, Query, description = "At most 500 (default 100)")),
    responses((status = 200, description = "`{data:[run]}`"), (status = 400, description = "invalid_field")))]
async fn list_runs(
    State(s): State<AppState>,
    Auth(a): Auth<AnalyticsRead>,
    ApiQuery(q): ApiQuery<RunsQuery>,
) -> Answer {
    let data = s
        .app
        .sync_runs(&a, q.status.as_deref(), q.since, q.limit.unwrap_or(100))
        .await?;
    Ok(private(StatusCode::OK, serde_json::json!({ "data": data })))
}

/// One sync run with its progress and counts.
#[utoipa::path(get, path = "/api/v1/sync-runs/{id}", tag = "sync",
    params(("id" = String, Path, description = "Run id")),
    responses((status = 200, description = "The run"), (status = 404, description = "not_found")))]
async fn get_run(
    State(s): State<AppState>,
    Auth(a): Auth<AnalyticsRead>,
    PathId(id): PathId,
) -> Answer {
    Ok(private(
        StatusCode::OK,
        s.app.sync_run(&a, SyncRunId::from_uuid(id)).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    source_id: uuid::Uuid,
    dataset: String,
}

/// "Sync now": queues a run (202), or returns the one already queued or running (202 too).
#[utoipa::path(post, path = "/api/v1/sync-runs", tag = "sync",
    request_body(content = serde_json::Value, description = "`{source_id, dataset}`"),
    responses((status = 202, description = "The run, with `created`"), (status = 404, description = "not_found"),
        (status = 422, description = "invalid_field, no_local_path")))]
async fn trigger(
    State(s): State<AppState>,
    Auth(a): Auth<SyncRun>,
    ApiJson(body): ApiJson<TriggerBody>,
) -> Answer {
    let (run, created) = s
        .app
        .trigger_sync(&a, body.source_id, &body.dataset)
        .await?;
    Ok(private(
        StatusCode::ACCEPTED,
        serde_json::json!({ "run": run, "created": created }),
    ))
}

pub(super) fn routes(r: Routes) -> Routes {
    r.api(Access::member::<AnalyticsRead>(), routes!(list_repos))
        .api(Access::member::<AnalyticsRead>(), routes!(get_repo))
        .api(Access::member::<SyncConfigure>(), routes!(update_repo))
        .api(Access::member::<AnalyticsRead>(), routes!(list_runs))
        .api(Access::member::<AnalyticsRead>(), routes!(get_run))
        .api(Access::member::<SyncRun>(), routes!(trigger))
}
