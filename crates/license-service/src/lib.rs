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
