//! `GET /healthz`, `GET /readyz`, `GET /metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::AppState;
use crate::access::{Access, Routes, Surface};
use crate::error::Rendered;

/// Liveness answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok` when the process answers.
    status: &'static str,
    /// Binary version.
    version: &'static str,
}

/// The process is alive. Touches no dependency, so an orchestrator never restarts a healthy
/// process because the database is slow.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "The process is alive", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: crate::VERSION,
    })
}

/// Readiness answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Ready {
    /// `ready` or `not_ready`.
    status: &'static str,
    /// Check results.
    #[schema(value_type = Object)]
    checks: app::Readiness,
}

/// The database answers and its schema matches this binary; 503 otherwise, with the reason.
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses(
        (status = 200, description = "Ready to serve", body = Ready),
        (status = 503, description = "Not ready; the body says why", body = Ready),
    ))]
async fn readyz(State(state): State<AppState>) -> Response {
    let checks = state.app.readiness().await;
    let (status, label) = if checks.ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    let mut response = (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(Ready {
            status: label,
            checks,
        }),
    )
        .into_response();
    // The 503 body is the readiness report itself, not the generic error envelope.
    response.extensions_mut().insert(Rendered);
    response
}

/// Prometheus text exposition.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .api(Access::public(), routes!(healthz))
        .api(Access::public(), routes!(readyz))
        .route(
            Surface::Machine,
            Method::GET,
            "/metrics",
            Access::public(),
            get(metrics),
        )
}
