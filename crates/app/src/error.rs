//! The application error: a kind (mapped once to an HTTP status or an exit code at the edge), a
//! stable machine-readable code and a sentence for people.

use serde_json::{Map, Value};

/// The class of failure; the server maps each to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request is malformed.
    BadRequest,
    /// 401: no or invalid credentials.
    Unauthenticated,
    /// 402: not licensed or over a capacity limit.
    PaymentRequired,
    /// 403: authenticated but refused.
    Forbidden,
    /// 404: missing, or in another organization.
    NotFound,
    /// 409: conflicts with the current state.
    Conflict,
    /// 413: the body is too large.
    PayloadTooLarge,
    /// 415: the body has the wrong media type.
    UnsupportedMediaType,
    /// 422: well-formed but invalid values.
    Invalid,
    /// 429: throttled.
    TooManyRequests,
    /// 503: a dependency (the database) is unavailable; retry later.
    Unavailable,
    /// 500: a bug or an unexpected failure.
    Internal,
}

/// An error a use case returns.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    /// Class of failure.
    pub kind: ErrorKind,
    /// Stable code, e.g. `forbidden`, `not_found`.
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
    /// Extra fields of the error envelope (e.g. `permission`).
    pub details: Map<String, Value>,
}

impl AppError {
    /// A new error without details.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            details: Map::new(),
        }
    }

    /// Adds a field to the envelope.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

impl From<store::StoreError> for AppError {
    fn from(e: store::StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "database unavailable");
            AppError::new(
                ErrorKind::Unavailable,
                "database_unavailable",
                "The database is not reachable right now; try again shortly.",
            )
        } else {
            tracing::error!(error = %e, "storage error");
            AppError::new(
                ErrorKind::Internal,
                "internal_error",
                "An unexpected error occurred.",
            )
        }
    }
}
