//! license-svc configuration (billing spec §3): compiled defaults < the TOML file (optional,
//! path chosen by the caller) < environment variables. Everything is checked once at startup,
//! so a typo, a missing secret or an ambiguous price stops the service with one line naming
//! the key instead of surfacing as a wrong tier later.
//!
//! Environment variables (each replaces the file's value; an empty variable counts as unset):
//!
//! | variable | key | format |
//! |---|---|---|
//! | `LICENSE_SVC_DATABASE_URL` | `database_url` | `sqlite:PATH` or `postgres://…` |
//! | `STRIPE_SECRET_KEY` | `stripe.secret_key` | `sk_…` or `rk_…` |
//! | `STRIPE_WEBHOOK_SECRETS` | `stripe.webhook_secrets` | comma list: `whsec_a,whsec_b` |
//! | `LICENSE_SVC_OPS_KEYS` | `auth.ops_keys` | comma list of `kid=secret` |
//! | `LICENSE_SVC_OPS_COMP_KEYS` | `auth.ops_comp_keys` | comma list of `kid=secret` |
//! | `LICENSE_SVC_ADMIN_KEYS` | `auth.admin_keys` | comma list of `kid=secret` |
//!
//! A `kid=secret` list replaces the whole table from the file (no merging), so removing a key
//! during a rotation is done in one place. Service secrets are used as given (their UTF-8
//! bytes, at least 32): generate them with `openssl rand -base64 48`. Secrets never appear in
//! `Debug` output or in errors. See `docs/license-svc.example.toml`.

mod duration;
mod price;
mod raw;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use figment::Figment;
use figment::providers::{Format, Toml};
use license::service_auth::Keys;
use reqwest::Url;
use store::DatabaseUrl;

pub use duration::parse as parse_duration;
pub use price::{Interval, Kind, Price, PriceMap};

use crate::subscription::Graces;

/// `database_url`.
pub const ENV_DATABASE_URL: &str = "LICENSE_SVC_DATABASE_URL";
/// `stripe.secret_key`.
pub const ENV_STRIPE_SECRET_KEY: &str = "STRIPE_SECRET_KEY";
/// `stripe.webhook_secrets` (comma list).
pub const ENV_STRIPE_WEBHOOK_SECRETS: &str = "STRIPE_WEBHOOK_SECRETS";
/// `auth.ops_keys` (`kid=secret,…`).
pub const ENV_OPS_KEYS: &str = "LICENSE_SVC_OPS_KEYS";
/// `auth.ops_comp_keys` (`kid=secret,…`).
pub const ENV_OPS_COMP_KEYS: &str = "LICENSE_SVC_OPS_COMP_KEYS";
/// `auth.admin_keys` (`kid=secret,…`).
pub const ENV_ADMIN_KEYS: &str = "LICENSE_SVC_ADMIN_KEYS";
/// The path every ops receiver URL ends with (billing spec §10).
pub const RECEIVER_PATH: &str = "/api/v1/license/webhook";

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// license-svc's own database (never the ops database).
    pub database_url: DatabaseUrl,
    /// Bind address.
    pub listen: SocketAddr,
    /// Base URL of the customer portal (links in mails, checkout return URLs).
    pub public_base_url: Url,
    /// `[stripe]`.
    pub stripe: StripeConfig,
    /// `[signing]`: one key per purpose (L§8).
    pub signing: Signing,
    /// `[ops]`.
    pub ops: Ops,
    /// `[auth]`: inbound HMAC keys with their scopes (§6.1).
    pub auth: Keys,
    /// Paid access kept while `past_due`.
    pub dunning_grace: Duration,
    /// `grace_days` of trialing entitlements (whole days).
    pub trial_grace: Duration,
    /// `[outbox]` retry schedule (§9).
    pub outbox: OutboxConfig,
    /// `[[price]]`: the only tier source.
    pub prices: PriceMap,
}

/// `[stripe]`.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// API base; tests point it at localstripe.
    pub api_base: Url,
    /// The API key.
    pub secret_key: Secret,
    /// Webhook endpoint secrets; several during a rotation.
    pub webhook_secrets: Vec<Secret>,
    /// Largest accepted age of a webhook signature, in seconds.
    pub tolerance_s: i64,
}

impl StripeConfig {
    /// Whether the key is a live-mode key (`sk_live_…` or a restricted `rk_live_…`): events of
    /// the other mode are recorded as `ignored`.
    pub fn live_mode(&self) -> bool {
        let k = self.secret_key.expose();
        k.starts_with("sk_live_") || k.starts_with("rk_live_")
    }
}

/// `[signing]`.
#[derive(Debug, Clone)]
pub struct Signing {
    /// Signs self-hosted license keys.
    pub license: SigningConfig,
    /// Signs SaaS entitlements pushed to ops.
    pub entitlement: SigningConfig,
}

/// A private signing key with its kid. `Debug` shows the kid and the file, never the key.
#[derive(Clone)]
pub struct SigningConfig {
    /// The kid written into token headers; ops trusts it through its compiled anchors.
    pub kid: String,
    /// Where the key was read from (for messages and readiness).
    pub key_file: PathBuf,
    /// The private key.
    pub key: SigningKey,
}

impl fmt::Debug for SigningConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningConfig")
            .field("kid", &self.kid)
            .field("key_file", &self.key_file)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// `[ops]`.
#[derive(Debug, Clone, Default)]
pub struct Ops {
    /// Where signed entitlements are pushed, one per ops deployment.
    pub receivers: Vec<Receiver>,
}

/// An ops deployment that receives entitlement pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    /// The deployment's id (tokens name it in `deployment_ids`).
    pub deployment_id: String,
    /// `…/api/v1/license/webhook` on that deployment.
    pub url: Url,
    /// The deployment's public base URL: checkout return URLs must start with it.
    pub public_base_url: Url,
}

/// `[outbox]`: `delay(n) = min(base · 2^(n−1), cap)`, dead `dead_after` after creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    /// First retry delay.
    pub base: Duration,
    /// Longest retry delay.
    pub cap: Duration,
    /// Age at which an undelivered row goes `dead`.
    pub dead_after: Duration,
}

/// A secret string whose `Debug` is redacted, so configs and errors can be logged safely.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that uses it (an HTTP header, an HMAC).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The bytes, so `stripe_signature::verify(…, &config.stripe.webhook_secrets, …)` works as is.
impl AsRef<[u8]> for Secret {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Why the configuration was refused: the key (dotted, e.g. `price[1].tier`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid license-svc configuration: `{key}`: {problem}")]
pub struct ConfigError {
    /// The offending key.
    pub key: String,
    /// What is wrong and, where useful, what to do; never a secret value.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

impl Config {
    /// Loads `file` (if given; it must exist) and the process environment, then checks
    /// everything and reads the signing keys.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_with_env(file, |name| std::env::var(name).ok())
    }

    /// [`Config::load`] with the environment supplied by the caller, so tests need not mutate
    /// the process environment.
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::new(
                    "config file",
                    format!("{} does not exist or is not a file", path.display()),
                ));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let mut raw: raw::RawConfig = figment.extract().map_err(raw::figment_error)?;
        let sources = raw.apply_env(&env)?;
        raw.check().map_err(|e| sources.annotate(e))
    }

    /// The grace settings the subscription reducer takes.
    pub fn graces(&self) -> Graces {
        Graces {
            dunning: chrono::Duration::from_std(self.dunning_grace)
                .unwrap_or(chrono::Duration::MAX),
            trial_days: i64::try_from(self.trial_grace.as_secs() / 86_400).unwrap_or(i64::MAX),
        }
    }
}
