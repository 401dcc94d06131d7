//! Records a provider's live responses as connector fixtures (see
//! `crates/sync/tests/fixtures/providers/README.md` and docs/OPERATIONS.md, "Recording provider
//! fixtures"). Run it on a machine that can reach the provider, point a sync at the address it
//! prints, then stop it with Ctrl-C:
//!
//! ```text
//! cargo run -p sync --example record_fixtures -- --upstream https://acme.atlassian.net \
//!     --out crates/sync/tests/fixtures/providers/recorded/jira [--listen 127.0.0.1:8799]
//! ```
#![allow(clippy::print_stderr, missing_docs)]

#[path = "../tests/support/recorder.rs"]
mod recorder;

use std::path::PathBuf;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (Some(upstream), Some(out)) = (arg("--upstream"), arg("--out")) else {
        eprintln!("error: --upstream ORIGIN and --out DIR are required");
        eprintln!(
            "hint: --upstream https://acme.atlassian.net --out crates/sync/tests/fixtures/providers/recorded/jira"
        );
        std::process::exit(2);
    };
    let listen = arg("--listen").unwrap_or_else(|| "127.0.0.1:8799".to_owned());
    let rec = match recorder::Recorder::start(&listen, &upstream, &PathBuf::from(&out)).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            eprintln!("hint: pass --listen with a free loopback address");
            std::process::exit(1);
        }
    };
    eprintln!(
        "recording {upstream} into {out}; use {} as the provider's base URL, Ctrl-C to stop",
        rec.base
    );
    let _ = tokio::signal::ctrl_c().await;
}
