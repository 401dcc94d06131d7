//! The license service (`dev-health license-svc`): Stripe webhooks, the subscription state
//! machine, entitlement signing, the outbox to ops and self-hosted key issuance.
//!
//! It has its own database and shares only `domain`, `license` and `store`'s connection and
//! migration helpers with ops. Arrives with issue 5 (`spec/billing-and-license-service.md`).

pub mod billing;
pub mod compute;
pub mod config;
pub mod db;
pub mod delivery;
pub mod entitlement;
pub mod event;
pub mod http;
pub mod scheduler;
pub mod service;
pub mod stripe_api;
pub mod stripe_signature;
pub mod subscription;
pub mod webhook;

/// Makes rustls use the ring provider (the one sqlx already builds) for every HTTP client of
/// the process; a no-op when a provider is already installed.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
pub mod portal;
pub mod selfhosted;

pub mod comp;
pub mod poll;
pub mod portal_account;
#[cfg(feature = "testing")]
pub mod testing;
