//! `GET /metrics`: license-svc's Prometheus metrics (billing spec §14). Private like `/v1/*`.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide recorder (installed on first use) and its render handle. Until it is
/// installed the `metrics::` calls of the crate record nothing, so `serve` installs it first.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            handle
        })
        .clone()
}

/// The text exposition format.
pub async fn render() -> impl IntoResponse {
    let h = handle();
    h.run_upkeep();
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], h.render())
}
