//! Use cases of Dev Health.
//!
//! This is the one place where permission, entitlement and limit checks, tenancy, audit events
//! and jobs come together. HTTP handlers and CLI commands call services here and never touch
//! SQL; services take capability values ([`authz::Authorized`]) that only the checks in
//! [`authz`] can construct, so a use case cannot be reached without its permission.

pub mod analytics;
pub mod authz;
pub mod billing;
mod catalogue;
pub mod entitlements;
mod error;
pub mod identity;
pub mod jobs;
pub mod passwords;
pub mod sync;
mod system;
pub mod worker;

use std::sync::Arc;

use domain::Clock;
use store::Store;

pub use catalogue::CatalogueReport;
pub use error::{AppError, ErrorKind};
pub use system::{Check, Readiness};

/// Result alias of this crate.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// The application: storage plus the clock every time-based decision uses. Cheap to clone.
#[derive(Clone, Debug)]
pub struct App {
    store: Store,
    clock: Arc<dyn Clock>,
    identity: Arc<identity::Identity>,
    engine: Arc<entitlements::Engine>,
    billing: Arc<billing::Billing>,
    integration_key: Arc<sync::integrations::IntegrationKey>,
}

impl App {
    /// Wires the application over an opened store.
    pub fn new(store: Store, clock: Arc<dyn Clock>, identity: identity::IdentityConfig) -> Self {
        let engine = entitlements::Engine::new(
            entitlements::EntitlementConfig::community(),
            identity.keys.license_clock.clone(),
            clock.now(),
        );
        let integration_key = Arc::new(sync::integrations::IntegrationKey::from_keys(
            identity.keys.secrets.clone(),
        ));
        Self {
            store,
            clock,
            integration_key,
            identity: identity::Identity::new(identity),
            engine: Arc::new(engine),
            billing: Arc::default(),
        }
    }

    /// Replaces the entitlement settings (mode, deployment id, `DEV_HEALTH_LICENSE`); a license
    /// file is read at once. Call before serving.
    pub fn with_entitlements(mut self, config: entitlements::EntitlementConfig) -> Self {
        let key = self.identity.config.keys.license_clock.clone();
        self.engine = Arc::new(entitlements::Engine::new(config, key, self.clock.now()));
        self.reload_license_file(true);
        self
    }

    /// Connects billing to license-svc (SaaS). Without it a SaaS server answers billing
    /// requests with 503 `billing_not_configured`.
    pub fn with_billing(
        mut self,
        config: billing::BillingConfig,
    ) -> Result<Self, billing::BillingConfigError> {
        self.billing = Arc::new(billing::Billing::new(config)?);
        Ok(self)
    }

    /// Identity settings (public URL, keys), for the server's cookie and CSRF handling.
    pub fn identity_config(&self) -> &identity::IdentityConfig {
        &self.identity.config
    }

    /// Password checks (real and dummy Argon2 verifications) this process has run.
    pub fn password_checks(&self) -> u64 {
        self.identity.passwords.checks()
    }

    pub(crate) fn identity(&self) -> &identity::Identity {
        &self.identity
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Name of the storage backend in use (`sqlite` or `postgres`), for status pages.
    pub fn backend(&self) -> &'static str {
        self.store.backend().as_str()
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }
}
