//! GitHub REST (spec §5, §7.4): pull requests with their commits and reviews, and issues with
//! the synthetic transitions their events imply.

mod issues;
mod pulls;

use serde::Deserialize;

pub use issues::issues;
pub use pulls::pull_requests;

/// One GitHub repository to sync.
#[derive(Debug, Clone)]
pub struct GithubRepo {
    /// API base: `https://api.github.com`, or `https://<host>/api/v3` for Enterprise Server.
    pub api: String,
    /// Owner (user or organisation).
    pub owner: String,
    /// Repository name.
    pub name: String,
}

impl GithubRepo {
    /// `https://api.github.com` for `owner/name`.
    pub fn dot_com(owner: &str, name: &str) -> GithubRepo {
        GithubRepo {
            api: "https://api.github.com".to_owned(),
            owner: owner.to_owned(),
            name: name.to_owned(),
        }
    }

    /// `owner/name`: the project key of its issues.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// `{api}/repos/{owner}/{name}{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!(
            "{}/repos/{}/{}{path}",
            self.api.trim_end_matches('/'),
            self.owner,
            self.name
        )
    }
}

/// A GitHub user as embedded in PRs, reviews, issues and events.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub(crate) login: String,
}

/// A label.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Label {
    pub(crate) name: String,
}

/// The GitHub account observation of a login.
pub(crate) fn login_person(login: &str) -> analytics::identity::Observation {
    crate::providers::records::person(
        analytics::identity::Alias::Github(login.to_owned()),
        None,
        None,
    )
}
