//! `dev-health sync git` and `metrics recompute` through the real binary: `--since` limits a
//! first sync, a bad date is one readable line, and the summary is one line (or JSON).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use support::{Server, run};

/// A work tree with one commit a day on 2024-01-01 … 2024-01-05 (noon UTC).
fn five_days(dir: &Path) {
    let git = |args: &[&str], date: Option<&str>| {
        let mut c = Command::new("git");
        c.args(args).current_dir(dir);
        c.env("GIT_AUTHOR_NAME", "Ada")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com");
        c.env("GIT_COMMITTER_NAME", "Ada")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com");
        if let Some(d) = date {
            c.env("GIT_AUTHOR_DATE", d).env("GIT_COMMITTER_DATE", d);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::create_dir_all(dir).unwrap();
    git(&["init", "-q", "-b", "main"], None);
    for day in 1..=5 {
        std::fs::write(dir.join("notes.txt"), "line\n".repeat(day)).unwrap();
        git(&["add", "notes.txt"], None);
        let date = format!("2024-01-0{day}T12:00:00Z");
        git(&["commit", "-q", "-m", &format!("day {day}")], Some(&date));
    }
}

#[tokio::test]
async fn sync_git_since_a_date_then_metrics_recompute() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], &[]);
    let setup = support::http()
        .post(server.url("/api/v1/setup"))
        .json(&json!({"email": "owner@example.com", "password": "correct horse battery staple", "name": "Owner", "org_name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(setup.status().as_u16(), 201);
    let repo = dir.path().join("work");
    five_days(&repo);
    let repo = repo.to_str().unwrap();

    let bad = run(
        dir.path(),
        &["sync", "git", repo, "--org", "acme", "--since", "last week"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("\"last week\" is not a date"), "{err}");

    let first = run(
        dir.path(),
        &[
            "sync",
            "git",
            repo,
            "--org",
            "acme",
            "--since",
            "2024-01-03",
            "--json",
        ],
        &[],
    );
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let s: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(
        (s["status"].as_str(), s["commits"].as_u64()),
        (Some("succeeded"), Some(3))
    );

    let again = run(dir.path(), &["sync", "git", repo, "--org", "acme"], &[]);
    assert!(again.status.success());
    let out = String::from_utf8(again.stdout).unwrap();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("succeeded: 0 new commits"), "{out}");

    let args = [
        "metrics",
        "recompute",
        "--org",
        "acme",
        "--from",
        "2024-01-01",
        "--to",
        "2025-01-01",
    ];
    let recomputed = run(dir.path(), &args, &[]);
    assert!(
        recomputed.status.success(),
        "{}",
        String::from_utf8_lossy(&recomputed.stderr)
    );
    let out = String::from_utf8(recomputed.stdout).unwrap();
    assert!(
        out.starts_with("recomputed 0 pull requests and 0 work items in [2024-01-01 00:00:00 UTC"),
        "{out}"
    );
    let backwards = [
        "metrics",
        "recompute",
        "--org",
        "acme",
        "--from",
        "2025-01-01",
        "--to",
        "2024-01-01",
    ];
    let bad = run(dir.path(), &backwards, &[]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--from must be before --to") && err.contains("hint"),
        "{err}"
    );
}
