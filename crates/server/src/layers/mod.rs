//! The request path shared by every route.

mod edge;
mod errors;
mod headers;
mod metrics;
mod request_id;

use std::any::Any;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Map;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::AppState;
use crate::error::envelope;

pub use metrics::metrics_handle;
pub(crate) use metrics::upkeep as metrics_upkeep;

/// Wraps the router in the request path. `.layer` calls wrap what came before, so the last one
/// listed is the outermost. The edge (request id, logging span, security headers, error
/// rendering, metrics) is one hand-written tower service rather than five `from_fn`
/// middlewares: each of those boxes a future and clones the inner service per request, and
/// `/healthz` throughput is benchmarked against bare axum (`scripts/bench`).
pub(crate) fn apply(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    router
        .route_layer(metrics::CaptureRouteLayer)
        .fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(RequestBodyLimitLayer::new(state.config.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            state.config.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(edge::EdgeLayer::new(state.clone()))
}

/// A panic in a handler becomes a 500 envelope; the panic message is logged, never sent.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    envelope(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "An unexpected error occurred.",
        &Map::new(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use axum::routing::get;
    use store::testing::TestDb;
    use tower::ServiceExt;

    use super::*;
    use crate::ServerConfig;

    async fn call(path: &str) -> (StatusCode, serde_json::Value) {
        let db = TestDb::new(store::Backend::Sqlite).await;
        let app = app::App::new(db.store.clone(), Arc::new(domain::SystemClock));
        let config = ServerConfig {
            request_timeout: Duration::from_millis(50),
            ..ServerConfig::default()
        };
        let state = AppState::new(app, config, crate::openapi::document());
        async fn boom() -> &'static str {
            panic!("secret detail")
        }
        async fn slow() -> &'static str {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }
        let router = Router::new()
            .route("/api/v1/boom", get(boom))
            .route("/api/v1/slow", get(slow));
        let router = apply(router, &state).with_state(state);
        let response = router
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_500_envelope_without_details() {
        let (status, body) = call("/api/v1/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"], "internal_error");
        assert!(!body.to_string().contains("secret detail"));
    }

    #[tokio::test]
    async fn a_slow_handler_is_cut_off_with_503() {
        let (status, body) = call("/api/v1/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"], "request_timeout");
    }
}
