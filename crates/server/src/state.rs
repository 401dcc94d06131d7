//! Shared state of the handlers.

use std::sync::Arc;

use app::App;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::ServerConfig;
use crate::assets::Assets;

/// What every handler can reach: the application services and read-only server facts.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub app: App,
    /// Server settings.
    pub config: Arc<ServerConfig>,
    pub(crate) metrics: PrometheusHandle,
    pub(crate) assets: Arc<Assets>,
    pub(crate) openapi_json: Arc<String>,
}

impl AppState {
    pub(crate) fn new(app: App, config: ServerConfig, openapi: utoipa::openapi::OpenApi) -> Self {
        let openapi_json = openapi.to_pretty_json().unwrap_or_else(|e| {
            tracing::error!(error = %e, "serializing the OpenAPI document failed");
            "{}".to_owned()
        });
        Self {
            app,
            config: Arc::new(config),
            metrics: crate::layers::metrics_handle(),
            assets: Arc::new(Assets::load()),
            openapi_json: Arc::new(openapi_json),
        }
    }
}
