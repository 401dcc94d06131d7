//! The one error type of the provider connectors. Each variant says what went wrong and what
//! the operator can do; none carries a token (credentials travel only in headers).

use chrono::{DateTime, Utc};

/// Why a request or a pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A wait the provider asked for would exceed the run's budget (`sync.max_wait_s`): the
    /// pass saves its checkpoint and the scheduler resumes it at `resume_at` (spec §3.3).
    /// Connectors turn this into [`crate::providers::PassEnd::Deferred`]; callers of the raw
    /// client see it as an error.
    #[error("rate limited: deferred until {resume_at} (the wait exceeds the run budget)")]
    Deferred {
        /// When the provider's limit resets.
        resume_at: DateTime<Utc>,
    },
    /// 401: the token is wrong, expired or revoked.
    #[error("the provider refused the credential (HTTP {status}); check or replace the token")]
    Unauthorized {
        /// The HTTP status.
        status: u16,
    },
    /// A 403 that is not a rate limit: the token lacks a scope or access. Never retried.
    #[error("the token has no access to {url} (HTTP 403: {message}); grant the missing scope")]
    Permission {
        /// The URL that was refused (never contains the token).
        url: String,
        /// The provider's message.
        message: String,
    },
    /// 404: the repository, project or item does not exist or is invisible to the token.
    #[error("{url} was not found; check the repository or project name and the token's access")]
    NotFound {
        /// The URL.
        url: String,
    },
    /// Retries ran out (5xx, timeouts, connection errors, repeated rate limits).
    #[error("{url} still failed after {attempts} attempts: {last}; try again later")]
    Exhausted {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// Any other unexpected status (400, 409, 422…): a bug or an unsupported setup, not retried.
    #[error("{url} answered HTTP {status}: {message}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The provider's message, truncated.
        message: String,
    },
    /// A GraphQL error other than a rate limit (for Linear, a query rejected for its
    /// complexity is a bug and is not retried).
    #[error("GraphQL error {code:?}: {message}")]
    GraphQl {
        /// `extensions.code`, when present.
        code: Option<String>,
        /// The error messages.
        message: String,
    },
    /// A body that does not have the documented shape.
    #[error("unexpected response from {url}: {message}")]
    Decode {
        /// The URL.
        url: String,
        /// What did not parse.
        message: String,
    },
    /// A configuration that cannot work (a bad base URL, a token with invalid characters).
    #[error("invalid provider configuration: {0}")]
    Config(String),
}
