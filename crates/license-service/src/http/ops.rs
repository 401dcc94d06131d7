//! The `/v1` routes ops calls (billing spec §5): checkout, portal, entitlement read.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Signed;
use crate::billing::{CheckoutRequest, PortalRequest};
use crate::service::{Service, SvcError};

/// `POST /v1/checkout-sessions` → 201 `{id, url}`.
pub async fn checkout(
    State(svc): State<Service>,
    headers: HeaderMap,
    signed: Signed,
) -> Result<(StatusCode, Json<Value>), SvcError> {
    let req: CheckoutRequest = signed.json()?;
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
    let (s, trial_days) = svc.checkout(&req, &request_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": s.id, "url": s.url, "trial_days": trial_days})),
    ))
}

/// `POST /v1/portal-sessions` → 201 `{url}`.
pub async fn portal(
    State(svc): State<Service>,
    signed: Signed,
) -> Result<(StatusCode, Json<Value>), SvcError> {
    let req: PortalRequest = signed.json()?;
    let url = svc.portal(&req).await?;
    Ok((StatusCode::CREATED, Json(json!({"url": url}))))
}

/// `?deployment_id=`: which receiver's last push to return.
#[derive(Debug, serde::Deserialize)]
pub struct Receiver {
    deployment_id: Option<String>,
}

/// `GET /v1/entitlements/{org_id}` → the stored entitlement, its billing summary and the last
/// token pushed (the pull repair); 404 `unknown_org` without a billing record.
pub async fn entitlement(
    State(svc): State<Service>,
    Path(org): Path<String>,
    Query(q): Query<Receiver>,
    _signed: Signed,
) -> Result<Json<Value>, SvcError> {
    let unknown = || {
        SvcError::invalid(
            404,
            "unknown_org",
            "no billing record for this organization",
        )
    };
    let org: Uuid = org.parse().map_err(|_| unknown())?;
    // The caller's receiver (`?deployment_id=`), else the first configured one.
    let deployment = q
        .deployment_id
        .or_else(|| {
            svc.config
                .ops
                .receivers
                .first()
                .map(|r| r.deployment_id.clone())
        })
        .unwrap_or_default();
    let (row, token) = svc.current(org, &deployment).await?.ok_or_else(unknown)?;
    Ok(Json(json!({
        "org_id": org,
        "tier": row.tier.as_str(),
        "version": row.version,
        "token": token,
        "billing": row.billing,
    })))
}

/// `PUT /v1/entitlements/{org_id}/comp` (ops comp key) → 200 `{org_id, version}`.
pub async fn put_comp(
    State(svc): State<Service>,
    Path(org): Path<Uuid>,
    signed: Signed,
) -> Result<Json<Value>, SvcError> {
    let req: crate::comp::CompRequest = signed.json()?;
    let version = svc
        .set_comp(org, Some(&req), &format!("ops:{}", signed.kid))
        .await?;
    Ok(Json(json!({"org_id": org, "version": version})))
}

/// `DELETE /v1/entitlements/{org_id}/comp` (ops comp key) → 200 `{org_id, version}`.
pub async fn delete_comp(
    State(svc): State<Service>,
    Path(org): Path<Uuid>,
    signed: Signed,
) -> Result<Json<Value>, SvcError> {
    let version = svc
        .set_comp(org, None, &format!("ops:{}", signed.kid))
        .await?;
    Ok(Json(json!({"org_id": org, "version": version})))
}
