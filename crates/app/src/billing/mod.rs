//! Billing on the ops side (billing spec §1, §10 pull repair, §11): ops never talks to Stripe;
//! it asks license-svc, with a service key that can ask but never grant, for Checkout and
//! customer-portal sessions and for an org's entitlement and billing state. What an org may use
//! still arrives only as a signed entitlement, through the same receiver steps as a push.
//!
//! Billing exists only in SaaS mode (404 on a self-hosted instance). A SaaS server without
//! `billing.license_svc_url` answers 503 `billing_not_configured`.

mod client;
mod service;
mod summary;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::OrgId;

pub use service::{CheckoutInput, Owner, Redirect, Refreshed};
pub use summary::{BillingState, BillingView, Phase};

/// The ops service key's secret (billing spec §6.1): at least 32 bytes, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceSecret(Vec<u8>);

impl ServiceSecret {
    /// The secret bytes, for signing only.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for ServiceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How ops reaches license-svc.
#[derive(Debug, Clone)]
pub struct BillingConfig {
    /// license-svc's base URL on the private network, e.g. `http://127.0.0.1:8090`.
    pub license_svc_url: String,
    /// The service key id (license-svc's `auth.ops_keys`).
    pub key_id: String,
    /// Its secret.
    pub key_secret: ServiceSecret,
    /// Per-request time limit.
    pub timeout: Duration,
}

/// A billing setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingConfigError {
    /// Not an http(s) URL.
    #[error("billing.license_svc_url is not an http(s) URL: {0}")]
    Url(String),
    /// No key id.
    #[error("billing.key_id is empty")]
    KeyId,
    /// A secret shorter than license-svc accepts.
    #[error("billing.key_secret must be at least 32 bytes (license-svc refuses shorter keys)")]
    ShortSecret,
    /// The HTTP client could not be built.
    #[error("the HTTP client for license-svc could not be built: {0}")]
    Client(String),
}

impl BillingConfig {
    /// Checked settings with a 10 s request limit.
    pub fn new(
        license_svc_url: &str,
        key_id: &str,
        key_secret: &[u8],
    ) -> Result<Self, BillingConfigError> {
        let url = license_svc_url.trim();
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| BillingConfigError::Url(format!("{url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(BillingConfigError::Url(url.to_owned()));
        }
        if key_id.trim().is_empty() {
            return Err(BillingConfigError::KeyId);
        }
        if key_secret.len() < 32 {
            return Err(BillingConfigError::ShortSecret);
        }
        Ok(Self {
            license_svc_url: url.trim_end_matches('/').to_owned(),
            key_id: key_id.trim().to_owned(),
            key_secret: ServiceSecret(key_secret.to_vec()),
            timeout: Duration::from_secs(10),
        })
    }
}

/// How long a billing summary from license-svc is reused (billing spec §11: 60 s).
pub(crate) const SUMMARY_TTL: chrono::Duration = chrono::Duration::seconds(60);

/// One org's summary as last fetched.
#[derive(Debug, Clone)]
struct Cached {
    at: DateTime<Utc>,
    fetched: Option<summary::Fetched>,
}

/// The billing part of the application: the client (when configured) and the summary cache.
#[derive(Debug, Default)]
pub(crate) struct Billing {
    client: Option<client::LicenseSvc>,
    cache: Mutex<HashMap<OrgId, Cached>>,
}

impl Billing {
    /// With a client for `config`.
    pub(crate) fn new(config: BillingConfig) -> Result<Self, BillingConfigError> {
        Ok(Self {
            client: Some(client::LicenseSvc::new(config)?),
            cache: Mutex::default(),
        })
    }

    fn cached(&self, org: OrgId, now: DateTime<Utc>) -> Option<Option<summary::Fetched>> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(&org)
            .filter(|c| now - c.at < SUMMARY_TTL && c.at <= now)
            .map(|c| c.fetched.clone())
    }

    fn store(&self, org: OrgId, now: DateTime<Utc>, fetched: Option<summary::Fetched>) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(org, Cached { at: now, fetched });
    }

    fn forget(&self, org: OrgId) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.remove(&org);
    }
}

impl crate::App {
    /// Drops the org's cached billing summary (a new entitlement was applied here).
    pub(crate) fn forget_billing(&self, org: OrgId) {
        self.billing().forget(org);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_the_secret_is_never_printed() {
        let secret = [7u8; 32];
        let c = BillingConfig::new("http://127.0.0.1:8090/", "ops-1", &secret)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.license_svc_url, "http://127.0.0.1:8090");
        assert!(!format!("{c:?}").contains("7, 7"), "{c:?}");
        assert!(format!("{c:?}").contains("[redacted]"));
        assert!(matches!(
            BillingConfig::new("ftp://x", "ops-1", &secret),
            Err(BillingConfigError::Url(_))
        ));
        assert!(matches!(
            BillingConfig::new("not a url", "ops-1", &secret),
            Err(BillingConfigError::Url(_))
        ));
        assert_eq!(
            BillingConfig::new("http://x", " ", &secret).err(),
            Some(BillingConfigError::KeyId)
        );
        assert_eq!(
            BillingConfig::new("http://x", "ops-1", b"short").err(),
            Some(BillingConfigError::ShortSecret)
        );
    }
}
