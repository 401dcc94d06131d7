//! What the CLI prints for people (stdout) as opposed to logs (stderr via tracing).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use crate::error::CliError;

/// A line of command output on stdout.
pub fn line(text: impl AsRef<str>) {
    println!("{}", text.as_ref());
}

/// The error line (and hint) on stderr.
pub fn error(e: &CliError) {
    eprintln!("{e}");
}
