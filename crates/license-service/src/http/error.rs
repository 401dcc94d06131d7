//! The one mapping of license-svc errors to HTTP answers.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::service::SvcError;
use crate::webhook::WebhookError;

impl IntoResponse for SvcError {
    fn into_response(self) -> Response {
        match self {
            SvcError::Invalid {
                status,
                code,
                message,
            } => (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                Json(json!({"error": code, "message": message})),
            )
                .into_response(),
            SvcError::Unavailable(why) => {
                tracing::warn!("unavailable: {why}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"error": "unavailable"})),
                )
                    .into_response()
            }
            SvcError::Store(e) => {
                tracing::error!("storage: {e}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"error": "internal"})),
                )
                    .into_response()
            }
        }
    }
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            WebhookError::Signature(e) => (StatusCode::BAD_REQUEST, e.code()),
            WebhookError::BadEvent(_) => (StatusCode::BAD_REQUEST, "bad_event"),
            WebhookError::Unavailable(why) => {
                tracing::warn!("stripe webhook deferred: {why}");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            WebhookError::Store(e) => {
                tracing::error!("stripe webhook storage: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        (status, Json(json!({"error": code}))).into_response()
    }
}
