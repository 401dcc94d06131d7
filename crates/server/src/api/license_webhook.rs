//! `POST /api/v1/license/webhook` (billing spec §10): license-svc pushes each org's signed
//! entitlement here. The route is public because the token is the authentication: its Ed25519
//! signature, the entitlement key purpose, this deployment's id and the per-org `iat` order are
//! what make a push authentic (§6.2); a replayed push can only be a duplicate or stale.
//!
//! Only the envelope is checked here — SaaS mode (404), at most 16 KiB (413),
//! `Content-Type: application/jwt` (415); `app` verifies, orders, applies and audits.

use app::entitlements::{Accepted, MAX_PUSH_BYTES};
use app::{AppError, ErrorKind};
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::json;
use utoipa_axum::routes;

use super::auth::private;
use crate::access::{Access, Routes};
use crate::extract::Saas;
use crate::{ApiError, AppState};

type Answer = Result<axum::response::Response, ApiError>;

fn too_large() -> ApiError {
    ApiError(AppError::new(
        ErrorKind::PayloadTooLarge,
        "payload_too_large",
        format!("An entitlement push is at most {MAX_PUSH_BYTES} bytes."),
    ))
}

/// The token of a push: the body, when it is small enough and sent as `application/jwt`.
async fn jwt_body(headers: &HeaderMap, body: Body) -> Result<String, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_PUSH_BYTES) {
        return Err(too_large());
    }
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if !media.is_some_and(|m| m.eq_ignore_ascii_case("application/jwt")) {
        return Err(ApiError(AppError::new(
            ErrorKind::UnsupportedMediaType,
            "unsupported_media_type",
            "Send the entitlement token as the body with Content-Type: application/jwt.",
        )));
    }
    let bytes = to_bytes(body, MAX_PUSH_BYTES)
        .await
        .map_err(|_| too_large())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Applies a signed entitlement pushed by license-svc: `applied` (with the org, tier and
/// version), or `duplicate` when this `jti` is already in force.
#[utoipa::path(post, path = "/api/v1/license/webhook", tag = "license",
    request_body(content = String, content_type = "application/jwt", description = "The signed entitlement"),
    responses(
        (status = 200, description = "`{\"status\":\"applied\",\"org_id\",\"tier\",\"version\"}` or `{\"status\":\"duplicate\"}`"),
        (status = 401, description = "invalid_entitlement with the refusal `code`"),
        (status = 404, description = "unknown_org; or a self-hosted instance"),
        (status = 409, description = "stale_entitlement with `stored_iat`"),
        (status = 413, description = "More than 16 KiB"),
        (status = 415, description = "Not application/jwt"),
    ))]
async fn receive(State(s): State<AppState>, _saas: Saas, headers: HeaderMap, body: Body) -> Answer {
    let token = jwt_body(&headers, body).await?;
    let answer = match s.app.accept_entitlement(&token).await? {
        Accepted::Applied {
            org_id,
            tier,
            effective_tier,
            version,
        } => json!({
            "status": "applied", "org_id": org_id, "tier": tier,
            "effective_tier": effective_tier, "version": version,
        }),
        Accepted::Duplicate => json!({ "status": "duplicate" }),
    };
    Ok(private(StatusCode::OK, answer))
}

pub(super) fn routes(r: Routes) -> Routes {
    r.api(Access::public(), routes!(receive))
}
