//! Licensing and entitlements (entitlements spec §5.4, §14, §15): the license status, decision
//! explanations, installing a license key, and the platform admins' kill switches and org
//! overrides. Handlers are thin: the `app` services decide and audit.

use app::entitlements::{KillSwitchInput, OverrideInput};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::permission::marker::{
    EntitlementsRead, LicenseManage, LicenseRead, PlatformFeatureFlags, PlatformFeatureOverrides,
};
use domain::{Feature, OrgId};
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::routes;

use super::auth::private;
use crate::access::{Access, Routes};
use crate::extract::{ApiJson, ApiQuery, PathId};
use crate::{ApiError, AppState, Auth};

type Answer = Result<Response, ApiError>;

fn org_of<P: domain::PermissionMarker>(a: &app::authz::Authorized<P>) -> Option<OrgId> {
    a.scope().map(|s| s.org_id())
}

/// The license in force, its state, usage and warnings (never the token itself).
#[utoipa::path(get, path = "/api/v1/license/status", tag = "license",
    responses((status = 200, description = "The license status document")))]
async fn status(State(s): State<AppState>, Auth(a): Auth<LicenseRead>) -> Answer {
    Ok(private(
        StatusCode::OK,
        s.app.license_status(org_of(&a)).await?,
    ))
}

/// The instance license status for platform admins (no org needed).
#[utoipa::path(get, path = "/api/v1/platform/license/status", tag = "platform",
    responses((status = 200, description = "The license status document")))]
async fn platform_status(
    State(s): State<AppState>,
    Auth(_a): Auth<PlatformFeatureFlags>,
) -> Answer {
    Ok(private(StatusCode::OK, s.app.license_status(None).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstallInput {
    token: String,
}

/// Installs or replaces the instance license (self-hosted, while `DEV_HEALTH_LICENSE` is unset).
#[utoipa::path(post, path = "/api/v1/license", tag = "license", request_body = serde_json::Value,
    responses((status = 200, description = "Installed"), (status = 409, description = "license_managed_by_env"),
        (status = 422, description = "license_invalid with the refusal code")))]
async fn install(
    State(s): State<AppState>,
    Auth(a): Auth<LicenseManage>,
    ApiJson(input): ApiJson<InstallInput>,
) -> Answer {
    let view = s.app.install_license_as(&a, &input.token).await?;
    Ok(private(StatusCode::OK, json!({ "license": view })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExplainQuery {
    #[serde(default)]
    feature: Option<Feature>,
}

/// Why each feature is or is not available to the caller's org, step by step.
#[utoipa::path(get, path = "/api/v1/entitlements/explain", tag = "license",
    params(("feature" = Option<String>, Query, description = "One feature key; all 16 without it")),
    responses((status = 200, description = "The explanation")))]
async fn explain(
    State(s): State<AppState>,
    Auth(a): Auth<EntitlementsRead>,
    ApiQuery(q): ApiQuery<ExplainQuery>,
) -> Answer {
    let org = org_of(&a).ok_or_else(|| ApiError(app::authz::unauthenticated()))?;
    Ok(private(
        StatusCode::OK,
        s.app.explain(org, q.feature).await?,
    ))
}

/// The same explanation for any org (platform admins).
#[utoipa::path(get, path = "/api/v1/platform/orgs/{org_id}/entitlements/explain", tag = "platform",
    params(("org_id" = String, Path), ("feature" = Option<String>, Query)),
    responses((status = 200, description = "The explanation")))]
async fn platform_explain(
    State(s): State<AppState>,
    Auth(_a): Auth<PlatformFeatureOverrides>,
    PathId(org): PathId,
    ApiQuery(q): ApiQuery<ExplainQuery>,
) -> Answer {
    let org = OrgId::from_uuid(org);
    Ok(private(
        StatusCode::OK,
        s.app.explain(org, q.feature).await?,
    ))
}

/// Turns a feature on or off for every org (the kill switch), with a reason.
#[utoipa::path(put, path = "/api/v1/platform/feature-flags/{feature}", tag = "platform",
    params(("feature" = String, Path)), request_body = serde_json::Value,
    responses((status = 204, description = "Changed"), (status = 404, description = "unknown_feature")))]
async fn set_flag(
    State(s): State<AppState>,
    Auth(a): Auth<PlatformFeatureFlags>,
    Path(feature): Path<String>,
    ApiJson(input): ApiJson<KillSwitchInput>,
) -> Answer {
    s.app.set_kill_switch(&a, &feature, input).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An org's overrides.
#[utoipa::path(get, path = "/api/v1/platform/orgs/{org_id}/overrides", tag = "platform",
    params(("org_id" = String, Path)), responses((status = 200, description = "The overrides")))]
async fn list_overrides(
    State(s): State<AppState>,
    Auth(a): Auth<PlatformFeatureOverrides>,
    PathId(org): PathId,
) -> Answer {
    let list = s.app.list_overrides(&a, OrgId::from_uuid(org)).await?;
    Ok(private(StatusCode::OK, json!({ "items": list })))
}

/// Sets an org's override of a feature, with a reason and an optional expiry.
#[utoipa::path(put, path = "/api/v1/platform/orgs/{org_id}/overrides/{feature}", tag = "platform",
    params(("org_id" = String, Path), ("feature" = String, Path)), request_body = serde_json::Value,
    responses((status = 200, description = "Set"), (status = 400, description = "override_grant_not_allowed, override_not_allowed")))]
async fn put_override(
    State(s): State<AppState>,
    Auth(a): Auth<PlatformFeatureOverrides>,
    Path((org, feature)): Path<(String, String)>,
    ApiJson(input): ApiJson<OverrideInput>,
) -> Answer {
    let org = parse_org(&org)?;
    Ok(private(
        StatusCode::OK,
        s.app.put_override(&a, org, &feature, input).await?,
    ))
}

/// Removes an org's override of a feature.
#[utoipa::path(delete, path = "/api/v1/platform/orgs/{org_id}/overrides/{feature}", tag = "platform",
    params(("org_id" = String, Path), ("feature" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, description = "not_found")))]
async fn delete_override(
    State(s): State<AppState>,
    Auth(a): Auth<PlatformFeatureOverrides>,
    Path((org, feature)): Path<(String, String)>,
) -> Answer {
    let org = parse_org(&org)?;
    s.app.delete_override(&a, org, &feature).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn parse_org(raw: &str) -> Result<OrgId, ApiError> {
    raw.parse().map_err(|_| {
        ApiError(app::AppError::new(
            app::ErrorKind::BadRequest,
            "invalid_id",
            "The id in the path is not a valid id.",
        ))
    })
}

pub(super) fn routes(r: Routes) -> Routes {
    r.api(Access::session::<LicenseRead>(), routes!(status))
        .api(Access::session::<LicenseManage>(), routes!(install))
        .api(Access::member::<EntitlementsRead>(), routes!(explain))
        .api(
            Access::platform::<PlatformFeatureFlags>(),
            routes!(platform_status),
        )
        .api(
            Access::platform::<PlatformFeatureFlags>(),
            routes!(set_flag),
        )
        .api(
            Access::platform::<PlatformFeatureOverrides>(),
            routes!(platform_explain),
        )
        .api(
            Access::platform::<PlatformFeatureOverrides>(),
            routes!(list_overrides),
        )
        .api(
            Access::platform::<PlatformFeatureOverrides>(),
            routes!(put_override, delete_override),
        )
}
