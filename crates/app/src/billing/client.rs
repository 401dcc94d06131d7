//! The license-svc client (billing spec §5, §6.1): JSON requests signed with the ops service
//! key (`DH-HMAC-SHA256` over method, path, query, timestamp, a one-time nonce and the body
//! hash), carrying ops' `X-Request-Id` so license-svc can derive Stripe's `Idempotency-Key`
//! from it and a retried ops request reuses the same Stripe object.
//!
//! Transport failures, license-svc's own failures (5xx, 429) and a refused service key (401,
//! 403) all become 503 `billing_unavailable`: the caller can do nothing about them but wait, and
//! the operator finds the reason in the log. Other answers go back to the service, which maps
//! the codes it knows.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, Url};
use serde_json::Value;

use super::BillingConfig;
use crate::{AppError, ErrorKind};

/// Largest license-svc answer read (its bodies are a few hundred bytes).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A license-svc answer that is not a failure of license-svc itself.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl Answer {
    /// The `error` code of a refusal.
    pub fn code(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

/// The client: one connection pool, the service key, no redirects (a signed request is for
/// exactly one URL).
pub(crate) struct LicenseSvc {
    http: reqwest::Client,
    base: Url,
    config: BillingConfig,
}

impl std::fmt::Debug for LicenseSvc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenseSvc")
            .field("base", &self.base.as_str())
            .field("key_id", &self.config.key_id)
            .finish_non_exhaustive()
    }
}

/// 503 `billing_unavailable`, with the reason logged for the operator (never shown).
pub(crate) fn unavailable(why: &str) -> AppError {
    tracing::warn!(reason = why, "license-svc call failed");
    AppError::new(
        ErrorKind::Unavailable,
        "billing_unavailable",
        "Billing is not reachable right now; nothing was changed. Try again in a minute.",
    )
    .with("retry_after_s", 30)
}

impl LicenseSvc {
    /// A client for `config` (its URL was checked by [`BillingConfig::new`]).
    pub(crate) fn new(config: BillingConfig) -> Result<Self, super::BillingConfigError> {
        let base = Url::parse(&config.license_svc_url)
            .map_err(|e| super::BillingConfigError::Url(e.to_string()))?;
        // rustls with the ring provider sqlx already builds (see the workspace manifest).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(3).min(config.timeout))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| super::BillingConfigError::Client(e.to_string()))?;
        Ok(Self { http, base, config })
    }

    /// Sends one signed request. `path` is license-svc's route (`/v1/…`), appended to the
    /// configured URL's own path; `now` is the signature timestamp (Unix seconds).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        request_id: &str,
        now: i64,
    ) -> Result<Answer, AppError> {
        let mut url = self.base.clone();
        let (path_only, query) = path
            .split_once('?')
            .map_or((path, None), |(p, q)| (p, Some(q)));
        url.set_path(&format!(
            "{}{path_only}",
            self.base.path().trim_end_matches('/')
        ));
        url.set_query(query);
        let bytes = body.map(Value::to_string).unwrap_or_default().into_bytes();
        let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let authorization = license::service_auth::authorization(
            &self.config.key_id,
            self.config.key_secret.expose(),
            &license::service_auth::Request {
                method: method.as_str(),
                path: url.path(),
                query: url.query().unwrap_or(""),
                body: &bytes,
            },
            now,
            &nonce,
        );
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header("authorization", authorization)
            .header("x-request-id", request_id)
            .header("accept", "application/json");
        if body.is_some() {
            request = request
                .header("content-type", "application/json")
                .body(bytes);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(&format!("{method} {path}: {e}")))?;
        let status = response.status().as_u16();
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(unavailable(&format!("{method} {path}: answer too large")));
        }
        let raw = response
            .bytes()
            .await
            .map_err(|e| unavailable(&format!("{method} {path}: reading the answer: {e}")))?;
        match status {
            401 | 403 => {
                tracing::error!(
                    status,
                    key_id = %self.config.key_id,
                    "license-svc refused this server's service key; check billing.key_id and billing.key_secret"
                );
                return Err(unavailable(&format!("{method} {path}: {status}")));
            }
            429 | 500.. => return Err(unavailable(&format!("{method} {path}: {status}"))),
            _ => {}
        }
        let body: Value = serde_json::from_slice(&raw).map_err(|_| {
            unavailable(&format!(
                "{method} {path}: {status} with a body that is not JSON"
            ))
        })?;
        Ok(Answer { status, body })
    }
}
