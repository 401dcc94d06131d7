//! Team attribution of work items (analytics spec §8): an item belongs to the teams whose
//! `project_keys` globs match its project key (Jira key, Linear team key, GitHub
//! `owner/repo`); an item no team claims that way belongs to the teams of its assignee.
//! A person in two teams counts in both.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// A team's compiled `project_keys` globs.
#[derive(Debug, Clone)]
pub struct ProjectKeys(GlobSet);

impl ProjectKeys {
    /// Compiles `patterns`; an invalid glob is named in the error.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<ProjectKeys, String> {
        let mut b = GlobSetBuilder::new();
        for p in patterns {
            b.add(Glob::new(p.as_ref()).map_err(|e| format!("project key {:?}: {e}", p.as_ref()))?);
        }
        b.build().map(ProjectKeys).map_err(|e| e.to_string())
    }

    /// Whether `project_key` matches one of the globs.
    pub fn matches(&self, project_key: &str) -> bool {
        self.0.is_match(project_key)
    }
}

/// The teams (`T`: any team id) an item counts for: those whose keys match `project_key`,
/// else `assignee_teams`. Both inputs keep their order; the result has no duplicates.
pub fn attribute<T: Clone + PartialEq>(
    teams: &[(T, ProjectKeys)],
    project_key: Option<&str>,
    assignee_teams: &[T],
) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    if let Some(key) = project_key {
        for (team, keys) in teams {
            if keys.matches(key) && !out.contains(team) {
                out.push(team.clone());
            }
        }
    }
    if out.is_empty() {
        for team in assignee_teams {
            if !out.contains(team) {
                out.push(team.clone());
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn project_keys_win_and_assignees_are_the_fallback() {
        let teams = [
            (1, ProjectKeys::new(&["ENG", "acme/*"]).unwrap()),
            (2, ProjectKeys::new(&["OPS*"]).unwrap()),
            (3, ProjectKeys::new::<&str>(&[]).unwrap()),
        ];
        assert_eq!(attribute(&teams, Some("ENG"), &[3]), [1]);
        assert_eq!(attribute(&teams, Some("acme/web"), &[]), [1]);
        assert_eq!(attribute(&teams, Some("OPSX"), &[3, 1]), [2]);
        assert_eq!(attribute(&teams, Some("OTHER"), &[3, 1, 3]), [3, 1]);
        assert_eq!(attribute(&teams, None, &[]), Vec::<i32>::new());
        assert!(ProjectKeys::new(&["a[b"]).unwrap_err().contains("a[b"));
    }
}
