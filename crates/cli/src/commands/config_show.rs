//! `dev-health config show [--json]`: every effective setting with its source, secrets redacted.

use std::path::Path;

use serde_json::json;

use crate::cli::ConfigCommand;
use crate::config::{self, Overrides};
use crate::error::CliError;
use crate::output;

pub fn run(file: Option<&Path>, cmd: ConfigCommand) -> Result<(), CliError> {
    let ConfigCommand::Show { json: as_json } = cmd;
    let loaded = config::load(file, Overrides::default())?;
    let settings = loaded.settings();
    if as_json {
        let rows: Vec<_> = settings
            .iter()
            .map(|(key, value, source)| json!({ "key": key, "value": value, "source": source }))
            .collect();
        output::line(serde_json::Value::Array(rows).to_string());
        return Ok(());
    }
    let width = settings
        .iter()
        .map(|(k, v, _)| k.len() + v.len())
        .max()
        .unwrap_or(0)
        + 3;
    for (key, value, source) in settings {
        let pair = format!("{key} = {value}");
        output::line(format!("{pair:<width$}  # {source}"));
    }
    Ok(())
}
