//! Benchmark of the local git sync (analytics spec §15), never a timed test:
//!   1. generates a deterministic repository (`--commits`, default 100,000; `--seed`, default 1)
//!      with about 10 % merges, renames and binaries;
//!   2. times `git log --numstat --no-renames` over it (the baseline, output discarded), then a
//!      first sync into a fresh embedded SQLite database, and prints the ratio (target ≤ 1.5)
//!      with the sync's peak resident memory (target < 512 MiB);
//!   3. appends 100 commits and times the incremental sync against the first (target ≤ 1 %),
//!      checking it read exactly 100 commits.
//!
//! Run with `cargo run --release -p app --example bench_git_sync -- [--commits N] [--seed S]`
//! (scripts/bench runs it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use app::sync::GitSyncOptions;
use domain::SystemClock;
use sync::git::generate::{GenOptions, generate_repo};

mod support;
use support::{arg, sqlite_with_org};

/// Peak resident set of this process since the last reset, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Resets the peak resident set (Linux: writing 5 to clear_refs), so the peak measured is the
/// sync's own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn git_log_secs(repo: &Path) -> f64 {
    let start = Instant::now();
    let status = Command::new("git")
        .args(["log", "--numstat", "--no-renames", "--format=%H", "main"])
        .current_dir(repo)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    start.elapsed().as_secs_f64()
}

/// Appends `n` empty commits to `main`, each a minute after the one before (new work is newer
/// than the history it builds on: the generated history runs years past today, and commits dated
/// before their parents make the walk's date-ordered boundary search read far back, as in git).
fn append(repo: &Path, n: usize) {
    let run = |args: &[&str], date: Option<&str>| {
        let mut cmd = Command::new("git");
        cmd.args(args).current_dir(repo);
        if let Some(d) = date {
            cmd.env("GIT_AUTHOR_DATE", d).env("GIT_COMMITTER_DATE", d);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let tip_time: i64 = run(&["log", "-1", "--format=%ct", "main"], None)
        .parse()
        .unwrap();
    for i in 0..n {
        let tree = run(&["rev-parse", "main^{tree}"], None);
        let date = format!("@{} +0000", tip_time + 60 * (i as i64 + 1));
        let new = run(
            &[
                "-c",
                "user.name=Bench",
                "-c",
                "user.email=bench@example.com",
                "commit-tree",
                &tree,
                "-p",
                "main",
                "-m",
                &format!("appended {i}"),
            ],
            Some(&date),
        );
        run(&["update-ref", "refs/heads/main", &new], None);
    }
}

#[tokio::main]
async fn main() {
    let commits = u32::try_from(arg("--commits", 100_000)).unwrap();
    let seed = arg("--seed", 1);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo.git");
    let t = Instant::now();
    let generated = generate_repo(&repo, GenOptions { commits, seed }).unwrap();
    println!(
        "generated {} commits ({} merges) in {:.1} s",
        generated.commits,
        generated.merges,
        t.elapsed().as_secs_f64()
    );

    let (store, org) = sqlite_with_org(dir.path()).await;
    let app = app::App::new(
        store,
        Arc::new(SystemClock),
        app::identity::IdentityConfig::ephemeral("http://127.0.0.1:8000"),
    );
    let repo_id = app.register_local_repo(org, &repo).await.unwrap();

    git_log_secs(&repo); // warm the page cache for both sides
    let baseline = git_log_secs(&repo);
    reset_peak();
    let t = Instant::now();
    let first = app
        .sync_git_repo(org, repo_id, &GitSyncOptions::default(), &())
        .await
        .unwrap();
    let sync_secs = t.elapsed().as_secs_f64();
    let peak = peak_rss_mib();
    assert_eq!(first.commits, u64::from(generated.commits));
    println!(
        "first sync: {sync_secs:.2} s for {} commits; git log --numstat: {baseline:.2} s; \
         ratio {:.2} (target <= 1.5); peak RSS {peak:.0} MiB (target < 512)",
        first.commits,
        sync_secs / baseline
    );

    let old_tip = sync::git::GitRepo::open(&repo)
        .unwrap()
        .tip(None)
        .unwrap()
        .id;
    append(&repo, 100);
    // Where an incremental sync's time goes: the walk plan alone, then the whole sync.
    let t = Instant::now();
    let git = sync::git::GitRepo::open(&repo).unwrap();
    let tip = git.tip(None).unwrap();
    let plan = git.plan(tip.id, Some(old_tip), None).unwrap();
    let plan_secs = t.elapsed().as_secs_f64();
    assert_eq!(plan.ids.len(), 100);
    let t = Instant::now();
    let incremental = app
        .sync_git_repo(org, repo_id, &GitSyncOptions::default(), &())
        .await
        .unwrap();
    let inc_secs = t.elapsed().as_secs_f64();
    assert_eq!(incremental.commits, 100, "exactly the new commits are read");
    println!(
        "incremental sync of 100 new commits: {inc_secs:.3} s = {:.2} % of the first (target <= 1 %); \
         opening the repository and planning the walk alone: {plan_secs:.3} s",
        100.0 * inc_secs / sync_secs
    );
}
