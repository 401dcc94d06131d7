//! The identity layer's error constructors: one place for each code and its sentence.

use chrono::Duration;

use crate::{AppError, ErrorKind};

pub(crate) fn invalid_credentials() -> AppError {
    AppError::new(
        ErrorKind::Unauthenticated,
        "invalid_credentials",
        "Email or password is incorrect.",
    )
}

pub(crate) fn invalid_token() -> AppError {
    AppError::new(
        ErrorKind::Unauthenticated,
        "invalid_token",
        "The access token is invalid or expired; refresh it or sign in again.",
    )
}

pub(crate) fn session_revoked() -> AppError {
    AppError::new(
        ErrorKind::Unauthenticated,
        "session_revoked",
        "This session has ended; sign in again.",
    )
}

pub(crate) fn invalid_refresh_token() -> AppError {
    AppError::new(
        ErrorKind::Unauthenticated,
        "invalid_refresh_token",
        "The refresh token is not valid.",
    )
}

pub(crate) fn invalid_or_expired_token() -> AppError {
    AppError::new(
        ErrorKind::BadRequest,
        "invalid_or_expired_token",
        "This link is invalid, expired or already used; request a new one.",
    )
}

pub(crate) fn invalid_email(reason: &str) -> AppError {
    AppError::new(
        ErrorKind::Invalid,
        "invalid_email",
        format!("The email address is not valid: {reason}."),
    )
}

pub(crate) fn weak_password(reasons: &[auth::password::WeakReason]) -> AppError {
    let names: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
    AppError::new(
        ErrorKind::Invalid,
        "weak_password",
        format!(
            "Choose another password ({}): use 12 to 128 characters that are not a common \
             password or your email.",
            names.join(", ")
        ),
    )
    .with("reasons", names)
}

pub(crate) fn invalid_field(field: &str, why: &str) -> AppError {
    AppError::new(
        ErrorKind::Invalid,
        "invalid_field",
        format!("{field}: {why}."),
    )
    .with("field", field)
}

pub(crate) fn invalid_role(text: &str) -> AppError {
    AppError::new(
        ErrorKind::Invalid,
        "invalid_role",
        format!("{text:?} is not a role that can be given here (admin, editor or viewer)."),
    )
}

pub(crate) fn not_found(what: &str) -> AppError {
    AppError::new(ErrorKind::NotFound, "not_found", format!("No such {what}."))
}

pub(crate) fn conflict(code: &'static str, message: &str) -> AppError {
    AppError::new(ErrorKind::Conflict, code, message)
}

pub(crate) fn forbidden(code: &'static str, message: &str) -> AppError {
    AppError::new(ErrorKind::Forbidden, code, message)
}

/// A 429 with the wait in whole seconds (at least 1), rendered as `Retry-After`.
pub(crate) fn throttled(code: &'static str, wait: Duration) -> AppError {
    let secs = (wait.num_milliseconds().max(0) + 999) / 1000;
    let secs = secs.clamp(1, 86_400);
    AppError::new(
        ErrorKind::TooManyRequests,
        code,
        format!("Too many attempts. Try again in {secs} seconds."),
    )
    .with("retry_after_s", secs)
}

pub(crate) fn internal() -> AppError {
    AppError::new(
        ErrorKind::Internal,
        "internal_error",
        "An unexpected error occurred.",
    )
}
