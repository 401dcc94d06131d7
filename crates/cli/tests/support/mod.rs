//! Spawning the real `dev-health` binary for process-level tests.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub mod license_svc;
pub mod webdriver;

/// The binary under test.
pub fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dev-health"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("DEV_HEALTH_") || key == "DATABASE_URL" || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.env("DEV_HEALTH_LOG__FORMAT", "json")
        .env("DEV_HEALTH_LOG__LEVEL", "warn");
    cmd
}

/// A master key for PostgreSQL runs, which refuse to start without one (SQLite runs generate
/// their key file in the data directory instead).
pub const TEST_SECRETS_KEY: &str = "dGVzdCBrZXkgZm9yIGRldi1oZWFsdGggdGVzdHMgb25seSEhIQ";

/// `env` plus the test master key when it points at PostgreSQL without one.
fn with_key<'a>(env: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut out = env.to_vec();
    let postgres = env
        .iter()
        .any(|(k, v)| *k == "DATABASE_URL" && v.starts_with("postgres"));
    if postgres && !env.iter().any(|(k, _)| *k == "DEV_HEALTH_SECRETS_KEY") {
        out.push(("DEV_HEALTH_SECRETS_KEY", TEST_SECRETS_KEY));
    }
    out
}

/// Runs the binary to completion in `dir`.
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    binary()
        .current_dir(dir)
        .args(args)
        .envs(with_key(env))
        .output()
        .unwrap()
}

/// A license key for `self-hosted` signed with the test key (the binary under test trusts it):
/// `license issue --test-key --sub cus_1 --tier TIER --deployment-id self-hosted EXTRA…`.
pub fn issue_test_license(dir: &Path, tier: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "license",
        "issue",
        "--test-key",
        "--sub",
        "cus_1",
        "--tier",
        tier,
        "--deployment-id",
        "self-hosted",
    ];
    args.extend_from_slice(extra);
    let out = run(dir, &args, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A running `dev-health serve` (killed when dropped).
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Starts `serve --bind 127.0.0.1:0` and waits (at most 60 s) for its "listening on" line.
    pub fn start(dir: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_at(dir, "127.0.0.1:0", extra_args, env)
    }

    /// [`Server::start`] on a chosen address (a restart on the same address, or a public URL
    /// known before the start).
    pub fn start_at(dir: &Path, bind: &str, extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = binary()
            .current_dir(dir)
            .args(["serve", "--bind", bind])
            .args(extra_args)
            .envs(with_key(env))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        match listening_on(&mut child, "dev-health listening on ") {
            Some(base) => Server { child, base },
            None => {
                let _ = child.kill();
                panic!("dev-health serve did not start: {:?}", child.wait());
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits (at most 60 s) for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("dev-health did not exit after SIGTERM");
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// The rest of the first stdout line of `child` that starts with `prefix` (its address), waiting
/// at most 60 s; later lines are drained so the child never blocks on a full pipe.
pub fn listening_on(child: &mut Child, prefix: &'static str) -> Option<String> {
    let stdout = child.stdout.take()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix(prefix) {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60)).ok()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 50 ms for at most `secs`.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..secs * 20 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {secs} s waiting for {what}");
}

/// An HTTP client for the tests (rustls with the ring provider, as the binary uses).
pub fn http() -> reqwest::Client {
    license_service::install_tls_provider();
    reqwest::Client::new()
}
