//! Bad configuration exits non-zero with one readable line naming the problem and the setting.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use support::{Server, run};

/// The first line of stderr that is not a JSON log record: the one readable error line.
fn first_line(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .find(|l| !l.starts_with('{'))
        .unwrap_or_default()
        .to_owned()
}

fn refuses(args: &[&str], env: &[(&str, &str)], file: Option<&str>, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    if let Some(toml) = file {
        std::fs::write(dir.path().join("dev-health.toml"), toml).unwrap();
    }
    let data = dir.path().join("data");
    let mut env = env.to_vec();
    let data = data.to_str().unwrap().to_owned();
    if !env.iter().any(|(k, _)| *k == "DEV_HEALTH_DATA_DIR") {
        env.push(("DEV_HEALTH_DATA_DIR", &data));
    }
    let output = run(dir.path(), args, &env);
    assert_eq!(output.status.code(), Some(78), "{output:?}");
    let line = first_line(&output);
    assert!(line.starts_with("error: "), "{line}");
    for needle in expect {
        assert!(line.contains(needle), "{line:?} should contain {needle:?}");
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .lines()
            .nth(1)
            .is_some_and(|l| l.trim_start().starts_with("hint: ")),
        "{stderr}"
    );
    assert!(
        stderr.lines().count() <= 2,
        "one line plus a hint: {stderr}"
    );
}

#[test]
fn unknown_key_in_the_file() {
    refuses(
        &["serve"],
        &[],
        Some("[server]\nbnid = \"127.0.0.1:1\"\n"),
        &["unknown field", "bnid", "dev-health.toml"],
    );
}

#[test]
fn unknown_key_in_the_environment() {
    refuses(
        &["serve"],
        &[("DEV_HEALTH_SERVR__BIND", "x")],
        None,
        &["unknown field", "servr"],
    );
}

#[test]
fn malformed_database_url() {
    refuses(
        &["serve"],
        &[("DATABASE_URL", "mysql://root:hunter2@db/dh")],
        None,
        &["database_url", "DATABASE_URL", "unsupported"],
    );
    refuses(
        &["migrate"],
        &[("DATABASE_URL", "postgres://")],
        None,
        &["database_url", "malformed"],
    );
}

#[test]
fn password_in_a_bad_url_is_not_printed() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        dir.path(),
        &["serve"],
        &[("DATABASE_URL", "mysql://root:hunter2@db/dh")],
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("hunter2"));
}

#[test]
fn unwritable_data_dir() {
    // Root can write anywhere, so use a path below a regular file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let bad = file.join("data");
    refuses(
        &["serve"],
        &[("DEV_HEALTH_DATA_DIR", bad.to_str().unwrap())],
        None,
        &[
            "data_dir",
            "DEV_HEALTH_DATA_DIR",
            "not a writable directory",
        ],
    );
}

#[test]
fn malformed_bind_address_and_wrong_types() {
    refuses(
        &["serve", "--bind", "localhost"],
        &[],
        None,
        &["server.bind", "--bind"],
    );
    refuses(
        &["serve"],
        &[("DEV_HEALTH_WORKER__CONCURRENCY", "many")],
        None,
        &["worker.concurrency", "DEV_HEALTH_WORKER__CONCURRENCY"],
    );
}

#[test]
fn trusted_proxy_settings_are_checked_together() {
    refuses(
        &["serve"],
        &[("DEV_HEALTH_SERVER__TRUSTED_PROXY_HOPS", "1")],
        None,
        &["server.trusted_proxies", "empty"],
    );
    refuses(
        &["serve"],
        &[],
        Some("[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\ntrusted_proxy_hops = 1\n"),
        &["server.trusted_proxies", "10.0.0.0/33", "dev-health.toml"],
    );
}

#[test]
fn port_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Server::start(
        dir.path(),
        &[],
        &[("DEV_HEALTH_DATA_DIR", data.to_str().unwrap())],
    );
    let addr = first.base.trim_start_matches("http://").to_owned();
    let output = run(
        dir.path(),
        &["serve", "--bind", &addr],
        &[("DEV_HEALTH_DATA_DIR", data.to_str().unwrap())],
    );
    assert_eq!(output.status.code(), Some(78), "{output:?}");
    let line = first_line(&output);
    assert!(
        line.contains("cannot listen") && line.contains(&addr) && line.contains("server.bind"),
        "{line}"
    );
}

#[test]
fn the_example_file_is_valid_and_sources_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../dev-health.example.toml");
    let output = run(dir.path(), &["--config", example, "config", "show"], &[]);
    assert!(output.status.success(), "{output:?}");
    std::fs::write(
        dir.path().join("dev-health.toml"),
        "[worker]\nconcurrency = 8\n",
    )
    .unwrap();
    let output = run(
        dir.path(),
        &["config", "show"],
        &[("DATABASE_URL", "postgres://dh:hunter2@db.internal/dh")],
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("worker.concurrency = 8").ends_with("# dev-health.toml"),
        "{text}"
    );
    assert!(
        line("database_url").contains("postgres://dh:***@db.internal/dh"),
        "{text}"
    );
    assert!(
        line("database_url").ends_with("# environment variable DATABASE_URL"),
        "{text}"
    );
    assert!(line("server.bind").ends_with("# default"), "{text}");
    assert!(!text.contains("hunter2"));
}
