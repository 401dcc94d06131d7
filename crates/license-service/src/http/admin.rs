//! `/v1/licenses*` for admin tooling (billing spec §5; HMAC, admin keys).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Signed;
use crate::db::licenses;
use crate::selfhosted::{IssueRequest, view};
use crate::service::{Service, SvcError};

/// `POST /v1/licenses` → 201 `{jti, token}`.
pub async fn issue(
    State(svc): State<Service>,
    signed: Signed,
) -> Result<(StatusCode, Json<Value>), SvcError> {
    let req: IssueRequest = signed.json()?;
    let l = svc
        .issue_license(&req, &format!("admin:{}", signed.kid))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"jti": l.jti, "token": l.token})),
    ))
}

/// `{reason}`.
#[derive(Debug, Deserialize)]
pub struct Revoke {
    reason: String,
}

/// `POST /v1/licenses/{jti}/revoke`.
pub async fn revoke(
    State(svc): State<Service>,
    Path(jti): Path<String>,
    signed: Signed,
) -> Result<Json<Value>, SvcError> {
    let r: Revoke = signed.json()?;
    svc.revoke_license(&jti, &r.reason, &format!("admin:{}", signed.kid))
        .await?;
    Ok(Json(json!({"jti": jti, "status": "revoked"})))
}

/// `?customer_id&status`.
#[derive(Debug, Deserialize)]
pub struct Filter {
    customer_id: Option<Uuid>,
    status: Option<String>,
}

/// `GET /v1/licenses` (tokens omitted).
pub async fn list(
    State(svc): State<Service>,
    Query(f): Query<Filter>,
    _signed: Signed,
) -> Result<Json<Value>, SvcError> {
    let mut c = svc.store.acquire().await?;
    let items = licenses::list(&mut c.conn(), f.customer_id, f.status.as_deref(), false).await?;
    Ok(Json(
        json!({"items": items.iter().map(view).collect::<Vec<_>>(), "next_cursor": null}),
    ))
}

/// `GET /v1/licenses/{jti}` (with the token).
pub async fn show(
    State(svc): State<Service>,
    Path(jti): Path<String>,
    _signed: Signed,
) -> Result<Json<Value>, SvcError> {
    let mut c = svc.store.acquire().await?;
    let l = licenses::get(&mut c.conn(), &jti)
        .await?
        .ok_or_else(|| SvcError::invalid(404, "unknown_license", "no such license"))?;
    Ok(Json(view(&l)))
}
