//! Log setup: JSON lines in production (no terminal), pretty output in a terminal.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSection};

/// Installs the global subscriber; `RUST_LOG` overrides `log.level`. Logs go to stderr so that
/// command output on stdout stays clean.
pub fn init(log: &LogSection) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match log.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.compact().try_init()
    };
    if result.is_err() {
        tracing::debug!("a log subscriber was already installed");
    }
}
