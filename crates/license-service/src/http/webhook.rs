//! `POST /webhooks/stripe`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::service::Service;
use crate::webhook::{Reply, WebhookError};

/// Verifies and processes one delivery; the raw bytes are what the signature covers.
pub async fn stripe(
    State(svc): State<Service>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, WebhookError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    Ok(Json(match svc.stripe_webhook(&body, signature).await? {
        Reply::Received(_) => json!({"received": true}),
        Reply::Duplicate => json!({"duplicate": true}),
    }))
}
