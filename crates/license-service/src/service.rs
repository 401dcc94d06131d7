//! The license service's state: its database, configuration, Stripe client and clock, shared by
//! the HTTP handlers, the outbox worker and the admin commands.

use std::sync::Arc;

use domain::Clock;
use store::Store;
use tokio::sync::Notify;

use crate::config::Config;
use crate::stripe_api::StripeClient;

/// What every part of license-svc works with. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Service {
    /// license-svc's own database.
    pub store: Store,
    /// Loaded and validated configuration.
    pub config: Arc<Config>,
    /// The Stripe API.
    pub stripe: StripeClient,
    /// Wall clock (tests move it).
    pub clock: Arc<dyn Clock>,
    /// Wakes the outbox worker after a commit that enqueued a push.
    pub outbox_wake: Arc<Notify>,
    /// Signature failures in the current minute: `(minute, count)`, for the rate alert.
    pub(crate) signature_failures: Arc<std::sync::Mutex<(i64, u32)>>,
}

/// An error of license-svc's use cases, mapped once to HTTP or to a CLI line.
#[derive(Debug, thiserror::Error)]
pub enum SvcError {
    /// The request is wrong (`code` is the stable error code).
    #[error("{code}: {message}")]
    Invalid {
        /// HTTP status.
        status: u16,
        /// Stable code.
        code: &'static str,
        /// Readable explanation.
        message: String,
    },
    /// A dependency (Stripe) is unreachable: retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] store::StoreError),
}

impl SvcError {
    /// A refusal with a status and code.
    pub fn invalid(status: u16, code: &'static str, message: impl Into<String>) -> SvcError {
        SvcError::Invalid {
            status,
            code,
            message: message.into(),
        }
    }
}

impl Service {
    /// Builds the service from its parts.
    pub fn new(store: Store, config: Config, clock: Arc<dyn Clock>) -> Result<Service, SvcError> {
        let stripe = StripeClient::from_config(&config.stripe)
            .map_err(|e| SvcError::Unavailable(format!("Stripe client: {e}")))?;
        Ok(Service {
            store,
            config: Arc::new(config),
            stripe,
            clock,
            outbox_wake: Arc::new(Notify::new()),
            signature_failures: Arc::default(),
        })
    }
}
