//! Provider integrations and hosted repositories (analytics spec §3.4, §14): creating an
//! integration or adding a repository needs `sync:configure`, reading integrations
//! `analytics:read`. The token goes in once and never comes back: responses carry only its
//! `token_hint`. The org is always the caller's; another org's integration id answers 404.

use app::sync::{IntegrationSettings, NewIntegration, SecretText};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use domain::IntegrationId;
use domain::permission::marker::{AnalyticsRead, SyncConfigure};
use serde::Deserialize;
use utoipa_axum::routes;

use super::auth::private;
use crate::access::{Access, Routes};
use crate::extract::{ApiJson, PathId};
use crate::{ApiError, AppState, Auth};

type Answer = Result<Response, ApiError>;

/// The body of a new integration. `token` is optional here only so that its absence is
/// reported by the app as a 422 naming `token`, like an empty one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntegrationBody {
    provider: String,
    base_url: Option<String>,
    token: Option<String>,
    #[serde(default)]
    settings: IntegrationSettings,
}

/// Stores an integration with its token sealed; the response has only the token's hint.
#[utoipa::path(post, path = "/api/v1/integrations", tag = "sync",
    request_body(content = serde_json::Value, description = "`{provider, base_url?, token, settings?}`"),
    responses((status = 201, description = "The integration (`token_hint`, never the token)"),
        (status = 422, description = "invalid_field")))]
async fn create_integration(
    State(s): State<AppState>,
    Auth(a): Auth<SyncConfigure>,
    ApiJson(body): ApiJson<IntegrationBody>,
) -> Answer {
    let new = NewIntegration {
        provider: body.provider,
        base_url: body.base_url,
        token: SecretText::new(body.token.unwrap_or_default()),
        settings: body.settings,
    };
    Ok(private(
        StatusCode::CREATED,
        s.app.create_integration_as(&a, &new).await?,
    ))
}

/// The org's integrations, without tokens.
#[utoipa::path(get, path = "/api/v1/integrations", tag = "sync",
    responses((status = 200, description = "`{data:[{id, provider, base_url, auth_kind, token_hint, settings, enabled, last_tested_at, created_at}]}`")))]
async fn list_integrations(State(s): State<AppState>, Auth(a): Auth<AnalyticsRead>) -> Answer {
    let data = s.app.integrations_of(&a).await?;
    Ok(private(StatusCode::OK, serde_json::json!({ "data": data })))
}

/// One integration, without its token.
#[utoipa::path(get, path = "/api/v1/integrations/{id}", tag = "sync",
    params(("id" = String, Path, description = "Integration id")),
    responses((status = 200, description = "The integration"), (status = 404, description = "not_found")))]
async fn get_integration(
    State(s): State<AppState>,
    Auth(a): Auth<AnalyticsRead>,
    PathId(id): PathId,
) -> Answer {
    Ok(private(
        StatusCode::OK,
        s.app
            .integration_of(&a, IntegrationId::from_uuid(id))
            .await?,
    ))
}

/// The body of a new hosted repository: GitHub `owner/name` or GitLab `group/project` as
/// `full_name`, or a GitLab numeric `project_id`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepoBody {
    integration_id: uuid::Uuid,
    full_name: Option<String>,
    project_id: Option<u64>,
    default_branch: Option<String>,
}

/// Adds a repository read through an integration; counted against the `repos` limit.
#[utoipa::path(post, path = "/api/v1/repos", tag = "sync",
    request_body(content = serde_json::Value, description = "`{integration_id, full_name | project_id, default_branch?}`"),
    responses((status = 201, description = "The repository"), (status = 402, description = "limit_exceeded (repos)"),
        (status = 404, description = "not_found (integration)"), (status = 422, description = "invalid_field")))]
async fn add_repo(
    State(s): State<AppState>,
    Auth(a): Auth<SyncConfigure>,
    ApiJson(body): ApiJson<RepoBody>,
) -> Answer {
    // A missing name becomes an empty one, which the app rejects naming `full_name`.
    let name = body
        .full_name
        .or(body.project_id.map(|p| p.to_string()))
        .unwrap_or_default();
    let repo = s
        .app
        .add_hosted_repo_as(
            &a,
            IntegrationId::from_uuid(body.integration_id),
            &name,
            body.default_branch.as_deref(),
        )
        .await?;
    Ok(private(StatusCode::CREATED, repo))
}

pub(super) fn routes(r: Routes) -> Routes {
    r.api(
        Access::member::<SyncConfigure>(),
        routes!(create_integration),
    )
    .api(
        Access::member::<AnalyticsRead>(),
        routes!(list_integrations),
    )
    .api(Access::member::<AnalyticsRead>(), routes!(get_integration))
    .api(Access::member::<SyncConfigure>(), routes!(add_repo))
}
