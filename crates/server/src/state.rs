//! Shared state of the handlers.

use std::ops::Deref;
use std::sync::Arc;

use app::App;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::ServerConfig;

/// What every handler can reach: the application services and read-only server facts.
///
/// axum clones the state for every extractor and middleware that asks for it, so it is one
/// `Arc`: a clone per request is an atomic increment, not a deep copy.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The contents of [`AppState`].
pub struct Shared {
    /// The use cases.
    pub app: App,
    /// Server settings.
    pub config: ServerConfig,
    pub(crate) metrics: PrometheusHandle,
    pub(crate) openapi_json: String,
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// State over `app`, serving `openapi` as the API document.
    pub fn new(app: App, config: ServerConfig, openapi: utoipa::openapi::OpenApi) -> Self {
        let openapi_json = openapi.to_pretty_json().unwrap_or_else(|e| {
            tracing::error!(error = %e, "serializing the OpenAPI document failed");
            "{}".to_owned()
        });
        Self(Arc::new(Shared {
            app,
            config,
            metrics: crate::layers::metrics_handle(),
            openapi_json,
        }))
    }
}
