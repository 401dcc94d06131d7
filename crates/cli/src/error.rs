//! CLI errors: one readable line, a hint, and an exit code.

use std::fmt;

/// Exit code for configuration problems (sysexits `EX_CONFIG`).
pub const EXIT_CONFIG: u8 = 78;
/// Exit code for an unreachable dependency (sysexits `EX_UNAVAILABLE`).
pub const EXIT_UNAVAILABLE: u8 = 69;
/// Exit code for any other failure.
pub const EXIT_FAILURE: u8 = 1;

/// An error that ends the command.
#[derive(Debug)]
pub struct CliError {
    /// What went wrong, naming the setting or input.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Process exit code.
    pub code: u8,
}

impl CliError {
    /// A configuration error.
    pub fn config(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: Some(hint.into()),
            code: EXIT_CONFIG,
        }
    }

    /// A dependency is unavailable.
    pub fn unavailable(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: Some(hint.into()),
            code: EXIT_UNAVAILABLE,
        }
    }

    /// A failure with a specific exit code (e.g. `license verify`: 2 rejected, 64 usage).
    pub fn with_code(code: u8, message: impl Into<String>, hint: Option<&str>) -> Self {
        Self {
            message: message.into(),
            hint: hint.map(str::to_owned),
            code,
        }
    }

    /// Anything else.
    pub fn failure(message: impl Into<String>, hint: Option<&str>) -> Self {
        Self {
            message: message.into(),
            hint: hint.map(str::to_owned),
            code: EXIT_FAILURE,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl From<app::AppError> for CliError {
    fn from(e: app::AppError) -> Self {
        CliError::failure(e.message, None)
    }
}

impl From<store::StoreError> for CliError {
    fn from(e: store::StoreError) -> Self {
        if e.is_unavailable() {
            CliError::unavailable(
                e.to_string(),
                "check that the database is running and DATABASE_URL is right",
            )
        } else {
            CliError::failure(e.to_string(), None)
        }
    }
}
