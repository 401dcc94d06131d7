//! The request path shared by every route.

mod edge;
mod errors;
mod headers;
mod metrics;
mod request_id;

use axum::Router;

use crate::AppState;

pub use metrics::metrics_handle;
pub(crate) use metrics::upkeep as metrics_upkeep;

/// Wraps the router in the request path: the route template is captured for metrics, unmatched
/// requests get the JSON fallbacks, and everything else happens in one pass in [`edge`].
pub(crate) fn apply(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    router
        .route_layer(metrics::CaptureRouteLayer)
        .fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::authn::authenticate,
        ))
        .layer(edge::EdgeLayer::new(&state.config))
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
    use axum::http::StatusCode;

    async fn call(path: &str) -> (StatusCode, serde_json::Value) {
        let db = TestDb::new(store::Backend::Sqlite).await;
        let app = app::App::new(
            db.store.clone(),
            Arc::new(domain::SystemClock),
            app::identity::IdentityConfig::ephemeral("http://127.0.0.1:8000"),
        );
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
