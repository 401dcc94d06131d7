//! license-svc's HTTP surface (billing spec §5): the Stripe webhook, the private `/v1` API for
//! ops and admin tooling (HMAC-signed requests), and the probes. Handlers are thin: they read
//! the request and call one `Service` method; errors map to JSON once, in [`error`].

mod admin;
mod auth;
mod error;
pub mod metrics;
mod ops;
mod portal;
mod portal_account;
mod probes;
mod webhook;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::service::Service;

pub use auth::Signed;

/// Webhook bodies are capped at 1 MiB, everything else at 64 KiB (§5).
pub const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;
/// Body cap of the `/v1` API.
pub const API_BODY_LIMIT: usize = 64 * 1024;

/// The whole router.
pub fn router(svc: Service) -> Router {
    let api = Router::new()
        .route("/v1/checkout-sessions", post(ops::checkout))
        .route("/v1/portal-sessions", post(ops::portal))
        .route("/v1/entitlements/{org_id}", get(ops::entitlement))
        .route(
            "/v1/entitlements/{org_id}/comp",
            axum::routing::put(ops::put_comp).delete(ops::delete_comp),
        )
        .route("/v1/licenses", post(admin::issue).get(admin::list))
        .route("/v1/licenses/{jti}", get(admin::show))
        .route("/v1/licenses/{jti}/revoke", post(admin::revoke))
        .route("/portal", get(portal::buy))
        .route("/portal/checkout", post(portal::checkout))
        .route("/portal/checkout/success", get(portal::success))
        .route("/portal/login", post(portal_account::login_request))
        .route("/portal/login/{token}", get(portal_account::login))
        .route("/portal/keys", get(portal_account::keys))
        .route("/portal/keys/{jti}/download", get(portal_account::download))
        .route(
            "/portal/deployment-ids",
            post(portal_account::deployment_ids),
        )
        .route("/portal/billing", post(portal_account::billing))
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT));
    Router::new()
        .route(
            "/webhooks/stripe",
            post(webhook::stripe).layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT)),
        )
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(metrics::render))
        .merge(api)
        .with_state(svc)
}

/// Serves `router` on `listener` until `stop` fires, letting in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    stop: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}
