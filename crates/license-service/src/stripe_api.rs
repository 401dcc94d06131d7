//! A small Stripe REST client: form-encoded requests, the secret key as a bearer token, JSON
//! answers. Only the calls license-svc makes (billing spec §7.1 step 8, §11, §12).
//!
//! Objects the webhook code interprets (subscriptions, invoices, sessions) come back as raw
//! `serde_json::Value`: Stripe's shapes differ between API versions (localstripe speaks the
//! 2017 one: `plan` rather than `price`), and the parser there decides what it accepts.
//!
//! Errors separate what a retry may fix ([`StripeError::is_transient`]: no connection, a
//! timeout, 409/429/5xx, or Stripe's `Stripe-Should-Retry: true`) from what it cannot (other
//! 4xx, with Stripe's message), because the webhook answers 503 for the first so Stripe
//! redelivers. The secret key is never logged nor put in an error.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::config::{Secret, StripeConfig};

/// Every call gives up after this long (and counts as transient).
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Page size of list calls (Stripe's maximum).
const PAGE: &str = "100";
/// Upper bound on pages followed by one list call, so a misbehaving server cannot loop us.
const MAX_PAGES: usize = 100;

/// Why a Stripe call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// Stripe could not be reached or asked us to come back later: no connection, a timeout,
    /// 409 (a concurrent request on the same object or idempotency key), 429 or 5xx.
    #[error("Stripe is unavailable ({reason}); retry later")]
    Transient {
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
        /// What happened, without any secret.
        reason: String,
    },
    /// Stripe refused the request; the same request will be refused again.
    #[error("Stripe refused the request ({status}{}): {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Rejected {
        /// The HTTP status (4xx).
        status: u16,
        /// Stripe's `error.code` or, without one, `error.type`.
        code: Option<String>,
        /// Stripe's `error.message`.
        message: String,
    },
    /// A success status with a body that is not the JSON object expected, or a request that
    /// could not be built (e.g. an id Stripe would never issue).
    #[error("unexpected Stripe exchange: {0}")]
    Unexpected(String),
}

impl StripeError {
    /// Whether retrying later may succeed (the webhook then answers 503, so Stripe retries).
    pub fn is_transient(&self) -> bool {
        matches!(self, StripeError::Transient { .. })
    }

    /// The HTTP status Stripe answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            StripeError::Transient { status, .. } => *status,
            StripeError::Rejected { status, .. } => Some(*status),
            StripeError::Unexpected(_) => None,
        }
    }

    /// Whether the object does not exist (404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// A Checkout Session to create (billing spec §11 step 4, §12 step 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutParams {
    /// The Stripe customer id (`cus_…`).
    pub customer: String,
    /// The Stripe price id sold (`line_items[0][price]`).
    pub price: String,
    /// `line_items[0][quantity]`; 1 for our plans.
    pub quantity: u32,
    /// `client_reference_id`: the org id for SaaS.
    pub client_reference_id: Option<String>,
    /// Where Stripe sends the browser after payment.
    pub success_url: String,
    /// Where Stripe sends the browser on cancel.
    pub cancel_url: String,
    /// Written to the session's `metadata` **and** `subscription_data[metadata]`, so every
    /// subscription event can be linked to its org even before the session event arrives
    /// (§7.1 step 11).
    pub metadata: BTreeMap<String, String>,
    /// `subscription_data[trial_period_days]`, only when the org is eligible (§7.4).
    pub trial_period_days: Option<u32>,
    /// `Idempotency-Key`: derived from ops' request id, so a retried request reuses the session.
    pub idempotency_key: String,
}

/// A created Checkout Session: the browser is sent to `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    /// `cs_…`.
    pub id: String,
    /// The hosted payment page.
    pub url: String,
}

/// The Stripe client. Cheap to clone (one connection pool).
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base: Url,
    key: Secret,
}

impl fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeClient")
            .field("base", &self.base.as_str())
            .field("key", &self.key)
            .finish()
    }
}

impl StripeClient {
    /// A client for `api_base` (`https://api.stripe.com`, or localstripe in tests).
    pub fn new(api_base: Url, secret_key: Secret) -> Result<StripeClient, StripeError> {
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!(
                "dev-health-license-svc/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| StripeError::Unexpected(format!("cannot build the HTTP client: {e}")))?;
        Ok(StripeClient {
            http,
            base: api_base,
            key: secret_key,
        })
    }

    /// A client from the `[stripe]` configuration.
    pub fn from_config(config: &StripeConfig) -> Result<StripeClient, StripeError> {
        StripeClient::new(config.api_base.clone(), config.secret_key.clone())
    }

    /// `GET /v1/subscriptions/{id}`: the authoritative state for the webhook (§7.1 step 8).
    pub async fn get_subscription(&self, id: &str) -> Result<Value, StripeError> {
        self.get(&["subscriptions", id], &[]).await
    }

    /// `GET /v1/invoices/{id}`.
    pub async fn get_invoice(&self, id: &str) -> Result<Value, StripeError> {
        self.get(&["invoices", id], &[]).await
    }

    /// `GET /v1/checkout/sessions/{id}` (the self-hosted success page checks `status`).
    pub async fn get_checkout_session(&self, id: &str) -> Result<Value, StripeError> {
        self.get(&["checkout", "sessions", id], &[]).await
    }

    /// `POST /v1/customers`; returns the new customer's id. `idempotency_key` makes a retried
    /// request return the first customer instead of creating a second one.
    pub async fn create_customer(
        &self,
        email: &str,
        name: Option<&str>,
        metadata: &BTreeMap<String, String>,
        idempotency_key: Option<&str>,
    ) -> Result<String, StripeError> {
        let mut form = vec![("email".to_owned(), email.to_owned())];
        if let Some(name) = name {
            form.push(("name".into(), name.into()));
        }
        push_metadata(&mut form, "metadata", metadata);
        let customer = self.post(&["customers"], &form, idempotency_key).await?;
        string_field(&customer, "id")
    }

    /// `POST /v1/checkout/sessions` with `mode=subscription`.
    pub async fn create_checkout_session(
        &self,
        p: &CheckoutParams,
    ) -> Result<CheckoutSession, StripeError> {
        let mut form = vec![
            ("mode".to_owned(), "subscription".to_owned()),
            ("customer".into(), p.customer.clone()),
            ("line_items[0][price]".into(), p.price.clone()),
            ("line_items[0][quantity]".into(), p.quantity.to_string()),
            ("success_url".into(), p.success_url.clone()),
            ("cancel_url".into(), p.cancel_url.clone()),
        ];
        if let Some(reference) = &p.client_reference_id {
            form.push(("client_reference_id".into(), reference.clone()));
        }
        push_metadata(&mut form, "metadata", &p.metadata);
        push_metadata(&mut form, "subscription_data[metadata]", &p.metadata);
        if let Some(days) = p.trial_period_days {
            form.push((
                "subscription_data[trial_period_days]".into(),
                days.to_string(),
            ));
            // A trial that ends without a payment method cancels (billing spec §7.4).
            form.push((
                "subscription_data[trial_settings][end_behavior][missing_payment_method]".into(),
                "cancel".into(),
            ));
        }
        let session = self
            .post(&["checkout", "sessions"], &form, Some(&p.idempotency_key))
            .await?;
        Ok(CheckoutSession {
            id: string_field(&session, "id")?,
            url: string_field(&session, "url")?,
        })
    }

    /// `POST /v1/billing_portal/sessions`; returns the portal URL for the browser.
    pub async fn create_billing_portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, StripeError> {
        let form = [
            ("customer".to_owned(), customer.to_owned()),
            ("return_url".to_owned(), return_url.to_owned()),
        ];
        let session = self
            .post(&["billing_portal", "sessions"], &form, None)
            .await?;
        string_field(&session, "url")
    }

    /// `GET /v1/subscriptions?customer=…&status=all`, every page: all of the customer's
    /// subscriptions, canceled ones included (reconciliation and "subscription exists" need
    /// the full picture; Stripe leaves canceled ones out by default).
    pub async fn list_subscriptions(&self, customer: &str) -> Result<Vec<Value>, StripeError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("customer", customer.to_owned()),
                ("status", "all".to_owned()),
                ("limit", PAGE.to_owned()),
            ];
            if let Some(id) = &after {
                query.push(("starting_after", id.clone()));
            }
            let page = self.get(&["subscriptions"], &query).await?;
            let data = page
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| StripeError::Unexpected("a list without `data`".into()))?;
            all.extend(data.iter().cloned());
            let more = page.get("has_more").and_then(Value::as_bool) == Some(true);
            match data.last() {
                Some(last) if more => after = Some(string_field(last, "id")?),
                _ => return Ok(all),
            }
        }
        Err(StripeError::Unexpected(format!(
            "more than {MAX_PAGES} pages of subscriptions for one customer"
        )))
    }

    fn url(&self, segments: &[&str]) -> Result<Url, StripeError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| StripeError::Unexpected("the API base cannot take a path".into()))?
            .pop_if_empty()
            .push("v1")
            .extend(segments);
        Ok(url)
    }

    async fn get(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Value, StripeError> {
        if segments.iter().any(|s| s.is_empty()) {
            return Err(StripeError::Unexpected("an empty object id".into()));
        }
        let mut url = self.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        self.send(self.http.request(Method::GET, url)).await
    }

    async fn post(
        &self,
        segments: &[&str],
        form: &[(String, String)],
        idempotency_key: Option<&str>,
    ) -> Result<Value, StripeError> {
        let body = serde_urlencoded::to_string(form)
            .map_err(|e| StripeError::Unexpected(format!("cannot encode the form: {e}")))?;
        let mut request = self
            .http
            .request(Method::POST, self.url(segments)?)
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .body(body);
        if let Some(key) = idempotency_key {
            let value = HeaderValue::from_str(key).map_err(|_| {
                StripeError::Unexpected("an idempotency key that is not a header value".into())
            })?;
            request = request.header("Idempotency-Key", value);
        }
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, StripeError> {
        let request = request
            .bearer_auth(self.key.expose())
            .build()
            .map_err(|e| StripeError::Unexpected(format!("cannot build the request: {e}")))?;
        let (method, path) = (request.method().clone(), request.url().path().to_owned());
        let response = self.http.execute(request).await.map_err(transport_error)?;
        let status = response.status();
        let should_retry = response
            .headers()
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v == "true");
        let body = response.bytes().await.map_err(transport_error)?;
        tracing::debug!(%method, path, status = status.as_u16(), "stripe call");
        if status.is_success() {
            return match serde_json::from_slice::<Value>(&body) {
                Ok(v) if v.is_object() => Ok(v),
                _ => Err(StripeError::Unexpected(format!(
                    "{method} {path} answered {status} without a JSON object"
                ))),
            };
        }
        Err(refusal(status, should_retry, &body))
    }
}

/// `metadata[k]=v` pairs (Stripe's bracket encoding of a map).
fn push_metadata(form: &mut Vec<(String, String)>, prefix: &str, map: &BTreeMap<String, String>) {
    for (k, v) in map {
        form.push((format!("{prefix}[{k}]"), v.clone()));
    }
}

fn string_field(object: &Value, field: &str) -> Result<String, StripeError> {
    object
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| StripeError::Unexpected(format!("the answer has no string `{field}`")))
}

/// No answer: every such failure may pass (connection refused, reset, timeout).
fn transport_error(e: reqwest::Error) -> StripeError {
    let reason = if e.is_timeout() {
        format!("no answer within {} s", TIMEOUT.as_secs())
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "the connection failed".to_owned()
    };
    // The URL names only the host and object ids; the key travels in a header.
    StripeError::Transient {
        status: None,
        reason: format!("{reason}: {e}"),
    }
}

/// A non-2xx answer, classified as Stripe's own clients do.
fn refusal(status: StatusCode, should_retry: Option<bool>, body: &[u8]) -> StripeError {
    let error = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").cloned());
    let text = |k: &str| {
        error
            .as_ref()
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let message = text("message").unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("no error message")
            .to_owned()
    });
    let transient = should_retry.unwrap_or_else(|| {
        status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::CONFLICT
    });
    if transient {
        return StripeError::Transient {
            status: Some(status.as_u16()),
            reason: format!("{}: {message}", status.as_u16()),
        };
    }
    StripeError::Rejected {
        status: status.as_u16(),
        code: text("code").or_else(|| text("type")),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, retry: Option<bool>, body: &str) -> StripeError {
        refusal(
            StatusCode::from_u16(status).unwrap(),
            retry,
            body.as_bytes(),
        )
    }

    #[test]
    fn answers_are_classified_as_stripe_clients_do() {
        let body = r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such subscription: 'sub_x'"}}"#;
        let e = err(404, None, body);
        assert!(!e.is_transient() && e.is_not_found());
        assert_eq!(
            e.to_string(),
            "Stripe refused the request (404 resource_missing): No such subscription: 'sub_x'"
        );
        let e = err(
            400,
            None,
            r#"{"error":{"type":"invalid_request_error","message":"Bad"}}"#,
        );
        assert_eq!(
            e,
            StripeError::Rejected {
                status: 400,
                code: Some("invalid_request_error".into()),
                message: "Bad".into()
            }
        );
        for status in [409, 429, 500, 502, 503] {
            let e = err(status, None, "<html>busy</html>");
            assert!(e.is_transient(), "{status}");
            assert_eq!(e.status(), Some(status));
        }
        // Stripe-Should-Retry wins over the status.
        assert!(err(400, Some(true), body).is_transient());
        assert!(!err(500, Some(false), body).is_transient());
        // A body that is not Stripe's error object still yields a sentence.
        assert!(err(401, None, "").to_string().contains("Unauthorized"));
    }

    #[test]
    fn urls_escape_ids_and_keep_a_base_path() {
        let key = Secret::new("sk_test_x");
        let c =
            StripeClient::new(Url::parse("http://127.0.0.1:8420").unwrap(), key.clone()).unwrap();
        assert_eq!(
            c.url(&["subscriptions", "sub_1/../x?y"]).unwrap().as_str(),
            "http://127.0.0.1:8420/v1/subscriptions/sub_1%2F..%2Fx%3Fy"
        );
        let c = StripeClient::new(Url::parse("http://proxy/stripe/").unwrap(), key).unwrap();
        assert_eq!(
            c.url(&["checkout", "sessions"]).unwrap().as_str(),
            "http://proxy/stripe/v1/checkout/sessions"
        );
        assert!(!format!("{c:?}").contains("sk_test_x"));
    }

    #[test]
    fn metadata_uses_the_bracket_encoding() {
        let mut form = Vec::new();
        let map = BTreeMap::from([("org_id".to_owned(), "o 1".to_owned())]);
        push_metadata(&mut form, "subscription_data[metadata]", &map);
        assert_eq!(
            serde_urlencoded::to_string(&form).unwrap(),
            "subscription_data%5Bmetadata%5D%5Borg_id%5D=o+1"
        );
    }
}
