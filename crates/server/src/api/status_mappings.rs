//! Status mappings (analytics spec §7.1 "Remapping"): reading them and the raw values the
//! org's items carry needs `analytics:read`; saving or removing one needs `sync:configure`,
//! and queues the re-read of that provider's items (the runs come back in the answer).

use app::sync::StatusMappingView;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use domain::permission::marker::{AnalyticsRead, SyncConfigure};
use serde::Deserialize;
use utoipa_axum::routes;

use super::auth::private;
use crate::access::{Access, Routes};
use crate::extract::{ApiJson, ApiQuery};
use crate::{ApiError, AppState, Auth};

type Answer = Result<Response, ApiError>;

/// A mapping to save.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingBody {
    provider: String,
    #[serde(rename = "match")]
    match_kind: String,
    raw: String,
    status: String,
}

/// Which mapping to remove.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingKey {
    provider: String,
    #[serde(rename = "match")]
    match_kind: String,
    raw: String,
}

/// The org's mappings, and every raw status (and open GitHub issues' label) its items carry
/// with what it resolves to and the rule that gave it; `unmapped` flags the ones to map.
#[utoipa::path(get, path = "/api/v1/status-mappings", tag = "sync",
    responses((status = 200, description = "`{mappings:[{provider, match, raw, status}], observed:[{provider, match, raw, status, source, unmapped, items}]}`")))]
async fn list_mappings(State(s): State<AppState>, Auth(a): Auth<AnalyticsRead>) -> Answer {
    Ok(private(StatusCode::OK, s.app.status_mappings(&a).await?))
}

/// Saves a mapping (replacing the one for the same raw value) and queues a re-read of the
/// provider's items, which resolves them and their transitions again.
#[utoipa::path(put, path = "/api/v1/status-mappings", tag = "sync",
    request_body(content = serde_json::Value, description = "`{provider: jira|linear, match: status, raw, status}` or `{provider: github, match: label, raw, status}`"),
    responses((status = 200, description = "`{mapping, runs:[run]}`"),
        (status = 422, description = "invalid_field (provider, match, raw or status)")))]
async fn put_mapping(
    State(s): State<AppState>,
    Auth(a): Auth<SyncConfigure>,
    ApiJson(body): ApiJson<MappingBody>,
) -> Answer {
    let input = StatusMappingView {
        provider: body.provider,
        match_kind: body.match_kind,
        raw: body.raw,
        status: body.status,
    };
    Ok(private(
        StatusCode::OK,
        s.app.set_status_mapping(&a, &input).await?,
    ))
}

/// Removes a mapping and queues a re-read of the provider's items.
#[utoipa::path(delete, path = "/api/v1/status-mappings", tag = "sync",
    params(("provider" = String, Query, description = "jira, linear or github"),
        ("match" = String, Query, description = "status or label"),
        ("raw" = String, Query, description = "The raw value")),
    responses((status = 200, description = "`{mapping: null, runs:[run]}`"),
        (status = 404, description = "not_found"), (status = 422, description = "invalid_field")))]
async fn delete_mapping(
    State(s): State<AppState>,
    Auth(a): Auth<SyncConfigure>,
    ApiQuery(k): ApiQuery<MappingKey>,
) -> Answer {
    Ok(private(
        StatusCode::OK,
        s.app
            .delete_status_mapping(&a, &k.provider, &k.match_kind, &k.raw)
            .await?,
    ))
}

pub(super) fn routes(r: Routes) -> Routes {
    r.api(Access::member::<AnalyticsRead>(), routes!(list_mappings))
        .api(Access::member::<SyncConfigure>(), routes!(put_mapping))
        .api(Access::member::<SyncConfigure>(), routes!(delete_mapping))
}
