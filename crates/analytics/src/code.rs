//! Code metrics over synced commits (analytics spec §9.3, §4): commits and merge commits,
//! additions/deletions over non-binary, non-excluded files of non-merge commits, churn, and
//! files changed; and the `excluded_paths` globs that keep lockfiles and vendored code out.

use std::collections::BTreeSet;

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Paths excluded from churn unless the repo or org says otherwise (§4): common lockfiles,
/// vendored and installed dependencies.
pub const DEFAULT_EXCLUDED: &[&str] = &[
    "**/Cargo.lock",
    "**/package-lock.json",
    "**/npm-shrinkwrap.json",
    "**/yarn.lock",
    "**/pnpm-lock.yaml",
    "**/poetry.lock",
    "**/Pipfile.lock",
    "**/Gemfile.lock",
    "**/composer.lock",
    "**/go.sum",
    "**/mix.lock",
    "vendor/**",
    "**/vendor/**",
    "node_modules/**",
    "**/node_modules/**",
];

/// A compiled set of `excluded_paths` globs.
#[derive(Debug, Clone)]
pub struct Exclusions(GlobSet);

impl Exclusions {
    /// Compiles `patterns`; an invalid glob is named in the error.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Exclusions, String> {
        let mut b = GlobSetBuilder::new();
        for p in patterns {
            let g = Glob::new(p.as_ref())
                .map_err(|e| format!("excluded path {:?}: {e}", p.as_ref()))?;
            b.add(g);
        }
        b.build().map(Exclusions).map_err(|e| e.to_string())
    }

    /// The default set ([`DEFAULT_EXCLUDED`]).
    pub fn defaults() -> Exclusions {
        Exclusions::new(DEFAULT_EXCLUDED)
            .unwrap_or_else(|e| unreachable!("the defaults compile: {e}"))
    }

    /// Whether `path` (repo-relative, `/`-separated) is excluded.
    pub fn is_excluded(&self, path: &str) -> bool {
        self.0.is_match(path)
    }
}

/// One numstat line of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Repo-relative path.
    pub path: String,
    /// Lines added (0 for binary files).
    pub additions: u64,
    /// Lines deleted (0 for binary files).
    pub deletions: u64,
    /// Binary on either side.
    pub is_binary: bool,
    /// Matches the excluded paths.
    pub is_excluded: bool,
}

/// A commit with its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The commit id.
    pub sha: String,
    /// Number of parents (> 1: a merge).
    pub parent_count: u32,
    /// Its numstat lines (none for merges by default).
    pub files: Vec<FileChange>,
}

/// §9.3 over one bucket and scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CodeTotals {
    /// Commits with at most one parent.
    pub commits: u64,
    /// Commits with more than one parent.
    pub merge_commits: u64,
    /// Added lines of counted files.
    pub additions: u64,
    /// Deleted lines of counted files.
    pub deletions: u64,
    /// `additions + deletions`.
    pub churn: u64,
    /// Distinct paths touched.
    pub files_changed: u64,
}

/// Totals over `commits`; the same sha counts once (the org scope counts distinct shas across
/// repos, and a commit never counts twice anywhere).
pub fn totals<'a>(commits: impl IntoIterator<Item = &'a Commit>) -> CodeTotals {
    let mut seen = BTreeSet::new();
    let mut paths = BTreeSet::new();
    let mut t = CodeTotals::default();
    for c in commits {
        if !seen.insert(c.sha.as_str()) {
            continue;
        }
        if c.parent_count > 1 {
            t.merge_commits += 1;
            continue;
        }
        t.commits += 1;
        for f in &c.files {
            paths.insert(f.path.as_str());
            if !f.is_binary && !f.is_excluded {
                t.additions += f.additions;
                t.deletions += f.deletions;
            }
        }
    }
    t.churn = t.additions + t.deletions;
    t.files_changed = paths.len() as u64;
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, additions: u64, deletions: u64, is_binary: bool) -> FileChange {
        FileChange {
            path: path.into(),
            additions,
            deletions,
            is_binary,
            is_excluded: Exclusions::defaults().is_excluded(path),
        }
    }

    #[test]
    fn golden_vector_of_the_spec() {
        // A merge commit plus two commits of +10/−2, one also touching a binary file and
        // Cargo.lock +500 → commits 2, merge_commits 1, churn 24.
        let commits = [
            Commit {
                sha: "m".into(),
                parent_count: 2,
                files: vec![],
            },
            Commit {
                sha: "a".into(),
                parent_count: 1,
                files: vec![file("src/a.rs", 10, 2, false)],
            },
            Commit {
                sha: "b".into(),
                parent_count: 1,
                files: vec![
                    file("src/b.rs", 10, 2, false),
                    file("logo.png", 0, 0, true),
                    file("Cargo.lock", 500, 0, false),
                ],
            },
        ];
        let t = totals(&commits);
        assert_eq!((t.commits, t.merge_commits, t.churn), (2, 1, 24));
        assert_eq!((t.additions, t.deletions, t.files_changed), (20, 4, 4));
        // The same commit in a fork counts once.
        let twice: Vec<&Commit> = commits.iter().chain(commits.iter()).collect();
        assert_eq!(totals(twice), t);
    }

    #[test]
    fn exclusions_match_lockfiles_and_vendored_code_anywhere() {
        let ex = Exclusions::defaults();
        for p in [
            "Cargo.lock",
            "web/package-lock.json",
            "vendor/x/y.go",
            "app/node_modules/a/b.js",
            "go.sum",
        ] {
            assert!(ex.is_excluded(p), "{p}");
        }
        for p in ["src/lock.rs", "vendors.md", "docs/Cargo.lock.md"] {
            assert!(!ex.is_excluded(p), "{p}");
        }
        let custom = Exclusions::new(&["generated/**", "*.pb.go"]).unwrap();
        assert!(custom.is_excluded("generated/api.rs") && custom.is_excluded("x/y.pb.go"));
        assert!(Exclusions::new(&["a/[b"]).unwrap_err().contains("a/[b"));
    }
}
