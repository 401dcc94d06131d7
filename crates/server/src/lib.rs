//! The ops HTTP server: the JSON API (with its generated OpenAPI document), the server-rendered
//! web UI, and the request path every request takes.
//!
//! Request path (outermost first): request id → trace → security headers → metrics → error
//! envelope → panic → timeout → body limit → router → per-route access check (declared with the
//! route, see [`access`]) → handler → one `app` service call. Handlers hold no SQL and no
//! policy; every error is mapped once, to the JSON envelope on API paths or to an HTML page on
//! web paths.

pub mod access;
mod api;
mod assets;
mod authn;
pub mod client_ip;
mod config;
mod error;
mod extract;
mod layers;
mod openapi;
mod state;
mod web;

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use access::{Access, AuthKind, RouteDecl, RouteTable, Rule};
pub use config::ServerConfig;
pub use error::ApiError;
pub use extract::{
    ApiJson, ApiQuery, Auth, Caller, ClientInfo, MaybePrincipal, PathId, RequestId, Saas,
};
pub use layers::metrics_handle;
pub use state::AppState;

/// The version of this build, shown by `/healthz`, the page footer and the API document.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Builds the complete router (API, web, static assets, fallbacks and the request path) and
/// returns it with its route table.
pub fn build(app: app::App, config: ServerConfig) -> (Router, RouteTable) {
    let routes = api::routes(access::Routes::new(openapi::document()));
    let routes = web::routes(routes);
    let (router, openapi, table) = routes.finish();
    let state = AppState::new(app, config, openapi);
    let router = layers::apply(router, &state).with_state(state);
    (router, table)
}

/// Serves until `shutdown` fires, then stops accepting and lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    tokio::spawn(layers::metrics_upkeep(shutdown.clone()));
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}
