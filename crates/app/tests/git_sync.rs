//! Local git sync as a recorded run, on SQLite and PostgreSQL (analytics spec §3–§4): a
//! generated repository is stored commit for commit with the numstat git prints, authors are
//! joined by the repository's `.mailmap`, the run and its counts are recorded, and a second sync
//! reads only the commits added since.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use app::App;
use app::sync::{GitSyncOptions, Progress, ProgressSink};
use domain::{OrgId, SystemClock};
use store::analytics::{commits, identities, sync_runs};
use store::backend_tests;
use store::testing::TestDb;
use sync::git::generate::{GenOptions, generate_repo};

fn app(db: &TestDb) -> App {
    App::new(
        db.store.clone(),
        Arc::new(SystemClock),
        app::identity::IdentityConfig::ephemeral("http://127.0.0.1:8000"),
    )
}

async fn org(db: &TestDb, slug: &str) -> OrgId {
    let id = OrgId::new();
    let mut c = db.store.acquire().await.unwrap();
    store::identity::orgs::insert(&mut c.conn(), id, slug, slug, chrono::Utc::now())
        .await
        .unwrap();
    id
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Appends `n` empty commits to `main` with plumbing (the repository is bare).
fn append(dir: &Path, n: usize) {
    for i in 0..n {
        let tree = git(dir, &["rev-parse", "main^{tree}"]);
        let new = Command::new("git")
            .args([
                "commit-tree",
                &tree,
                "-p",
                "main",
                "-m",
                &format!("appended {i}"),
            ])
            .env("GIT_AUTHOR_NAME", "Grace Hopper")
            .env("GIT_AUTHOR_EMAIL", "grace@example.com")
            .env("GIT_COMMITTER_NAME", "Grace Hopper")
            .env("GIT_COMMITTER_EMAIL", "grace@example.com")
            .current_dir(dir)
            .output()
            .unwrap();
        let sha = String::from_utf8(new.stdout).unwrap();
        git(dir, &["update-ref", "refs/heads/main", sha.trim()]);
    }
}

#[derive(Default)]
struct Phases(Mutex<Vec<&'static str>>);

impl ProgressSink for Phases {
    fn report(&self, p: &Progress) {
        let mut v = self.0.lock().unwrap();
        if v.last() != Some(&p.phase) {
            v.push(p.phase);
        }
    }
}

backend_tests! {
    async fn a_generated_repository_is_stored_as_git_sees_it(db: &TestDb) {
        let app = app(db);
        let org = org(db, "acme").await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo.git");
        let generated = generate_repo(&path, GenOptions { commits: 250, seed: 5 }).unwrap();

        let repo = app.register_local_repo(org, &path).await.unwrap();
        assert_eq!(app.register_local_repo(org, &path).await.unwrap(), repo, "registered once");
        let phases = Phases::default();
        let s = app.sync_git_repo(org, repo, &GitSyncOptions::default(), &phases).await.unwrap();
        assert_eq!(s.status, "succeeded");
        assert_eq!(s.commits, u64::from(generated.commits));
        assert_eq!(s.merges, u64::from(generated.merges));
        assert_eq!(s.ref_name, "refs/heads/main");
        assert_eq!(s.tip, git(&path, &["rev-parse", "main"]));
        assert_eq!(
            *phases.0.lock().unwrap(),
            vec!["resolving_refs", "walking", "writing", "metrics"]
        );

        let mut c = db.store.acquire().await.unwrap();
        assert_eq!(commits::count(&mut c.conn(), org, repo).await.unwrap(), i64::from(generated.commits));
        // The stored numstat of the tip's first-parent history equals git's, file by file.
        let shas = git(&path, &["rev-list", "--no-merges", "--max-count=40", "main"]);
        for sha in shas.lines() {
            let want = git(&path, &["show", "--numstat", "--no-renames", "--format=", sha]);
            let mut want: Vec<String> = want.lines().map(str::to_owned).collect();
            want.sort();
            let mut got: Vec<String> = commits::files(&mut c.conn(), org, repo, sha)
                .await
                .unwrap()
                .into_iter()
                .map(|(p, a, d, bin, _)| {
                    if bin { format!("-\t-\t{p}") } else { format!("{a}\t{d}\t{p}") }
                })
                .collect();
            got.sort();
            assert_eq!(got, want, "commit {sha}");
        }
        // Lockfiles are stored but excluded from churn.
        let lock: Vec<_> = lockfile_exclusions(&mut c, org, repo).await;
        assert!(!lock.is_empty() && lock.iter().all(|excluded| *excluded));

        // The .mailmap joins Ada's two emails; the noreply email carries a GitHub alias.
        let people = identities::list(&mut c.conn(), org).await.unwrap();
        let ada: Vec<_> = people.iter().filter(|p| p.display_name == "Ada Lovelace").collect();
        assert_eq!(ada.len(), 1, "{people:?}");
        assert!(people.iter().all(|p| p.display_name != "Ada L"), "{people:?}");
        assert!(people.iter().any(|p| p.display_name == "dependabot[bot]" && p.is_bot));
        let ken = identities::by_alias(&mut c.conn(), org, "github", "kenthompson").await.unwrap();
        assert!(ken.is_some());
        assert_eq!(s.identities_created, people.len() as u64);

        // The run is recorded with its counts.
        let runs = sync_runs::list(&mut c.conn(), org, None, None, 10).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "succeeded");
        assert_eq!(runs[0].trigger, "cli");
        assert_eq!(runs[0].counts.as_ref().unwrap()["commits"], u64::from(generated.commits));
        assert!(runs[0].finished_at.is_some());
        drop(c);

        // Nothing new: nothing read. Three new commits: exactly three read.
        let again = app.sync_git_repo(org, repo, &GitSyncOptions::default(), &()).await.unwrap();
        assert_eq!(again.commits, 0);
        // A stored tip whose objects are gone (history rewritten and pruned): the whole ref is
        // walked and every stored commit skipped, nothing rewritten.
        {
            let mut c = db.store.acquire().await.unwrap();
            let key = store::analytics::cursors::CursorKey {
                source_id: repo.as_uuid(),
                dataset: "commits",
                key: "refs/heads/main",
            };
            let gone = "1111111111111111111111111111111111111111";
            store::analytics::cursors::set(&mut c.conn(), org, key, Some(gone), None, chrono::Utc::now())
                .await
                .unwrap();
        }
        let rewalk = app.sync_git_repo(org, repo, &GitSyncOptions::default(), &()).await.unwrap();
        assert_eq!((rewalk.commits, rewalk.skipped), (0, u64::from(generated.commits)));
        append(&path, 3);
        let more = app.sync_git_repo(org, repo, &GitSyncOptions::default(), &()).await.unwrap();
        assert_eq!(more.commits, 3);
        assert_eq!(more.identities_created, 0);
        let mut c = db.store.acquire().await.unwrap();
        assert_eq!(commits::count(&mut c.conn(), org, repo).await.unwrap(), i64::from(generated.commits) + 3);

        // Another org sees none of it.
        let other = org_in(db, "other").await;
        assert!(store::analytics::repos::get(&mut c.conn(), other, repo).await.unwrap().is_none());
        assert_eq!(commits::count(&mut c.conn(), other, repo).await.unwrap(), 0);
        drop(c);
        let err = app.sync_git_repo(other, repo, &GitSyncOptions::default(), &()).await.unwrap_err();
        assert_eq!(err.code, "not_found");
    }

    async fn a_first_sync_since_a_date_reads_what_git_rev_list_since_lists(db: &TestDb) {
        let app = app(db);
        let org = org(db, "acme").await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo.git");
        let generated = generate_repo(&path, GenOptions { commits: 160, seed: 9 }).unwrap();
        // The committer time of the commit halfway down the first-parent history.
        let mid = git(&path, &["log", "--first-parent", "--skip=60", "-1", "--format=%cI", "main"]);
        let since = chrono::DateTime::parse_from_rfc3339(&mid).unwrap().with_timezone(&chrono::Utc);
        let want: std::collections::BTreeSet<String> =
            git(&path, &["rev-list", &format!("--since={mid}"), "main"]).lines().map(str::to_owned).collect();
        assert!(want.len() > 60 && want.len() < generated.commits as usize, "{}", want.len());

        let repo = app.register_local_repo(org, &path).await.unwrap();
        let opts = GitSyncOptions { since: Some(since), ..GitSyncOptions::default() };
        let s = app.sync_git_repo(org, repo, &opts, &()).await.unwrap();
        assert_eq!(s.commits, want.len() as u64);
        let mut c = db.store.acquire().await.unwrap();
        let got: std::collections::BTreeSet<String> =
            commits::shas(&mut c.conn(), org, repo).await.unwrap().into_iter().collect();
        assert_eq!(got, want);
        drop(c);

        // Once a tip is synced, --since no longer applies: new commits are read, none skipped.
        append(&path, 3);
        let later = GitSyncOptions {
            since: Some(chrono::Utc::now() + chrono::Duration::days(365)),
            ..GitSyncOptions::default()
        };
        let more = app.sync_git_repo(org, repo, &later, &()).await.unwrap();
        assert_eq!(more.commits, 3);
    }

    async fn a_broken_repository_fails_its_run_and_keeps_the_cursor(db: &TestDb) {
        let app = app(db);
        let org = org(db, "acme").await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo.git");
        generate_repo(&path, GenOptions { commits: 30, seed: 2 }).unwrap();
        let repo = app.register_local_repo(org, &path).await.unwrap();
        let opts = GitSyncOptions { branch: Some("nope".into()), ..GitSyncOptions::default() };
        let err = app.sync_git_repo(org, repo, &opts, &()).await.unwrap_err();
        assert_eq!(err.code, "ref_not_found");
        let mut c = db.store.acquire().await.unwrap();
        let runs = sync_runs::list(&mut c.conn(), org, Some("failed"), None, 10).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].error_code.as_deref(), Some("ref_not_found"));
        assert_eq!(commits::count(&mut c.conn(), org, repo).await.unwrap(), 0);
        drop(c);
        // A failed run does not block the next one.
        let s = app.sync_git_repo(org, repo, &GitSyncOptions::default(), &()).await.unwrap();
        assert_eq!(s.commits, 30);
    }
}

async fn org_in(db: &TestDb, slug: &str) -> OrgId {
    org(db, slug).await
}

/// `is_excluded` of every stored `Cargo.lock` line.
async fn lockfile_exclusions(
    c: &mut store::PooledConn,
    org: OrgId,
    repo: domain::RepoId,
) -> Vec<bool> {
    let mut out = Vec::new();
    let shas = commits::shas(&mut c.conn(), org, repo).await.unwrap();
    for sha in shas {
        for (path, _, _, _, excluded) in commits::files(&mut c.conn(), org, repo, &sha)
            .await
            .unwrap()
        {
            if path == "Cargo.lock" {
                out.push(excluded);
            }
        }
    }
    out
}
