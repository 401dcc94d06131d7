//! Local git sync against git itself (analytics spec §4, §9.7): on a generated repository with
//! a root commit, merges, renames, binaries, a symlink, a submodule pointer and an executable-bit
//! flip, every commit's numstat equals `git log --numstat --no-renames`, and an incremental plan
//! lists exactly `git rev-list old..new`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use sync::git::generate::{GenOptions, generate_repo};
use sync::git::{GitRepo, Limits, ParallelReader, Reader, StatsState};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "core.quotepath=off"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

type Numstat = BTreeSet<(Option<u32>, Option<u32>, String)>;

/// `git log --numstat --no-renames` parsed per commit; `None` counts are git's `-` (binary).
fn git_numstat(dir: &Path) -> BTreeMap<String, Numstat> {
    let text = git(
        dir,
        &[
            "log",
            "--numstat",
            "--no-renames",
            "--format=commit %H",
            "main",
        ],
    );
    let mut out: BTreeMap<String, Numstat> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(sha) = line.strip_prefix("commit ") {
            current = sha.to_owned();
            out.entry(current.clone()).or_default();
        } else if !line.is_empty() {
            let mut parts = line.splitn(3, '\t');
            let (a, d, p) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            out.get_mut(&current)
                .unwrap()
                .insert((a.parse().ok(), d.parse().ok(), p.to_owned()));
        }
    }
    out
}

fn ours(
    repo: &GitRepo,
    ids: &[sync::git::ObjectId],
) -> BTreeMap<String, (Numstat, StatsState, usize)> {
    let mut reader = Reader::default();
    ids.iter()
        .map(|id| {
            let c = repo.read(&mut reader, *id, Limits::default()).unwrap();
            let files = c
                .files
                .iter()
                .map(|f| {
                    if f.is_binary {
                        (None, None, f.path.clone())
                    } else {
                        (Some(f.additions), Some(f.deletions), f.path.clone())
                    }
                })
                .collect();
            (c.sha, (files, c.stats_state, c.parents.len()))
        })
        .collect()
}

#[test]
fn every_commit_matches_git_log_numstat() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo.git");
    let summary = generate_repo(
        &path,
        GenOptions {
            commits: 400,
            seed: 7,
        },
    )
    .unwrap();
    assert!(summary.merges >= 10, "{summary:?}");

    let repo = GitRepo::open(&path).unwrap();
    let tip = repo.tip(None).unwrap();
    assert_eq!(tip.ref_name, "refs/heads/main");
    let plan = repo.plan(tip.id, None, None).unwrap();
    let expected = git_numstat(&path);
    assert_eq!(plan.ids.len(), expected.len());
    assert_eq!(plan.ids.len(), summary.commits as usize);

    let got = ours(&repo, &plan.ids);
    let mut seen = (0, 0, 0, 0, 0);
    for (sha, want) in &expected {
        let (files, state, parents) = &got[sha];
        if *parents > 1 {
            assert_eq!(*state, StatsState::MergeSkipped);
            seen.0 += 1;
        } else {
            assert_eq!(*state, StatsState::Complete, "{sha}");
        }
        if *parents == 0 {
            seen.1 += 1;
        }
        assert_eq!(files, want, "commit {sha}");
        seen.2 += want.iter().filter(|(a, _, _)| a.is_none()).count();
        seen.3 += want.iter().filter(|(_, _, p)| p == "vendor/lib").count();
        seen.4 += want
            .iter()
            .filter(|(a, d, _)| *a == Some(0) && *d == Some(0))
            .count();
    }
    let (merges, roots, binaries, submodules, zero) = seen;
    assert_eq!(merges, summary.merges as usize);
    assert_eq!(roots, 1);
    assert!(binaries > 0 && submodules == 2 && zero > 0, "{seen:?}");
    // Parents come before their children, so a sync interrupted mid-way stores whole ancestries.
    let position: BTreeMap<String, usize> = plan
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.to_string(), i))
        .collect();
    for id in &plan.ids {
        let c = repo
            .read(&mut Reader::default(), *id, Limits::default())
            .unwrap();
        for p in &c.parents {
            assert!(
                position[p] < position[&c.sha],
                "{p} after its child {}",
                c.sha
            );
        }
    }

    // Several diffing threads return what one thread reads, in the same order.
    let mut reader = Reader::default();
    let one: Vec<_> = plan
        .ids
        .iter()
        .map(|id| repo.read(&mut reader, *id, Limits::default()).unwrap())
        .collect();
    for threads in [2, 3] {
        let mut parallel = ParallelReader::with_threads(&repo, threads);
        let mut many = Vec::new();
        for chunk in plan.ids.chunks(97) {
            many.extend(parallel.read(chunk, Limits::default()).unwrap());
        }
        assert_eq!(many, one, "{threads} threads");
    }
}

#[test]
fn an_incremental_plan_reads_only_new_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo.git");
    generate_repo(
        &path,
        GenOptions {
            commits: 120,
            seed: 3,
        },
    )
    .unwrap();
    let repo = GitRepo::open(&path).unwrap();
    let tip = repo.tip(Some("main")).unwrap();

    assert!(
        repo.plan(tip.id, Some(tip.id), None)
            .unwrap()
            .ids
            .is_empty()
    );

    let old = git(&path, &["rev-parse", "main~15"]);
    let old: sync::git::ObjectId = old.trim().parse().unwrap();
    let plan = repo.plan(tip.id, Some(old), None).unwrap();
    assert!(!plan.full_walk);
    let want: BTreeSet<String> = git(&path, &["rev-list", &format!("{old}..main")])
        .lines()
        .map(str::to_owned)
        .collect();
    let got: BTreeSet<String> = plan.ids.iter().map(ToString::to_string).collect();
    assert_eq!(got, want);
    assert!(got.len() >= 15);

    // An old tip whose objects are gone (history rewritten and pruned): the whole ref is walked.
    let gone: sync::git::ObjectId = "1111111111111111111111111111111111111111".parse().unwrap();
    let plan = repo.plan(tip.id, Some(gone), None).unwrap();
    assert!(plan.full_walk);
    assert_eq!(plan.ids.len(), 120);
}

#[test]
fn the_tip_mailmap_is_read_and_a_missing_ref_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo.git");
    generate_repo(
        &path,
        GenOptions {
            commits: 20,
            seed: 1,
        },
    )
    .unwrap();
    let repo = GitRepo::open(&path).unwrap();
    let tip = repo.tip(None).unwrap();
    let (blob, bytes) = repo.mailmap(tip.id).unwrap().unwrap();
    assert_eq!(blob, git(&path, &["rev-parse", "main:.mailmap"]).trim());
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(text, git(&path, &["show", "main:.mailmap"]));
    assert!(text.contains("ADA@old-laptop.local"), "{text:?}");
    let err = repo.tip(Some("nope")).unwrap_err();
    assert_eq!(err.to_string(), "ref refs/heads/nope not found");
    let err = GitRepo::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("is not a git repository"), "{err}");
}

#[test]
fn the_same_seed_generates_the_same_repository() {
    let mut a = Vec::new();
    let mut b = Vec::new();
    let opts = GenOptions {
        commits: 200,
        seed: 11,
    };
    sync::git::generate::fast_import_stream(opts, &mut a).unwrap();
    sync::git::generate::fast_import_stream(opts, &mut b).unwrap();
    assert_eq!(a, b);
    let mut c = Vec::new();
    sync::git::generate::fast_import_stream(GenOptions { seed: 12, ..opts }, &mut c).unwrap();
    assert_ne!(a, c);
}
