//! Metrics (analytics spec §9, §14): the catalog and one metric over a window and scope, for
//! members holding `analytics:read` by session or API token. The org is always the caller's;
//! scope ids of another org answer 404. Validation and computation live in `app::analytics`.

use app::analytics::MetricQuery;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::permission::marker::AnalyticsRead;
use utoipa_axum::routes;

use super::auth::private;
use crate::access::{Access, Routes};
use crate::extract::ApiQuery;
use crate::{ApiError, AppState, Auth};

type Answer = Result<Response, ApiError>;

/// Every metric with its unit, population, allowed scopes and statistics.
#[utoipa::path(get, path = "/api/v1/metrics", tag = "metrics",
    responses((status = 200, description = "`[{key, unit, kind, population, scopes, stats, default_stats}]`")))]
async fn catalog(State(s): State<AppState>, Auth(a): Auth<AnalyticsRead>) -> Answer {
    Ok(private(StatusCode::OK, s.app.metric_catalog(&a)))
}

/// One metric per day or ISO week with the window's summary; percentiles come from the
/// per-item values of each bucket and of the window, durations are seconds, statistics over
/// no items are null (counts 0).
#[utoipa::path(get, path = "/api/v1/metrics/{key}", tag = "metrics",
    params(
        ("key" = String, Path, description = "A key of GET /api/v1/metrics"),
        ("scope" = Option<String>, Query, description = "org (default), repo, team or person"),
        ("scope_id" = Option<String>, Query, description = "The repo, team or identity id (not with scope=org)"),
        ("from" = Option<String>, Query, description = "First day YYYY-MM-DD (default: 29 days before to)"),
        ("to" = Option<String>, Query, description = "Last day YYYY-MM-DD, inclusive (default: today UTC)"),
        ("grain" = Option<String>, Query, description = "day (default, ≤ 366 days) or week (ISO weeks, ≤ 731 days)"),
        ("stats" = Option<String>, Query, description = "Comma-separated: count, p50, p75, p90, p95, mean, value (per the catalog)"),
        ("repo_id" = Option<String>, Query, description = "Narrows any scope to one repository"),
        ("team_id" = Option<String>, Query, description = "Narrows any scope to one team"),
    ),
    responses(
        (status = 200, description = "`{metric, unit, grain, scope, scope_id, from, to, stats, points:[{bucket_start, count, p50, p90, mean, value}], summary}`"),
        (status = 400, description = "invalid_query (with `field`), window_too_large"),
        (status = 404, description = "metric_not_found; not_found for a scope id outside the org"),
    ))]
async fn metric(
    State(s): State<AppState>,
    Auth(a): Auth<AnalyticsRead>,
    Path(key): Path<String>,
    ApiQuery(query): ApiQuery<MetricQuery>,
) -> Answer {
    Ok(private(
        StatusCode::OK,
        s.app.metric(&a, &key, &query).await?,
    ))
}

pub(super) fn routes(r: Routes) -> Routes {
    r.api(Access::member::<AnalyticsRead>(), routes!(catalog))
        .api(Access::member::<AnalyticsRead>(), routes!(metric))
}
