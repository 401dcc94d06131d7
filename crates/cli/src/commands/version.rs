//! `dev-health version [--json]`.

use serde_json::json;

use crate::error::CliError;
use crate::output;

pub fn run(as_json: bool) -> Result<(), CliError> {
    let version = env!("CARGO_PKG_VERSION");
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    if as_json {
        let doc = json!({
            "name": "dev-health",
            "version": version,
            "profile": profile,
            "backends": ["sqlite", "postgres"],
            "insecure_fast_hashing": auth::password::INSECURE_FAST_HASHING,
            "test_keys": license::anchors::TEST_KEYS,
        });
        output::line(doc.to_string());
    } else {
        output::line(format!(
            "dev-health {version} ({profile} build; backends: sqlite, postgres)"
        ));
    }
    Ok(())
}
