//! GitLab REST v4 (spec §6): merge requests with diffs-based size, commits, and reviews rebuilt
//! from notes and approvals.

mod merge_requests;
mod reviews;

pub use merge_requests::merge_requests;

/// One GitLab project to sync.
#[derive(Debug, Clone)]
pub struct GitlabProject {
    /// API base: `https://gitlab.com/api/v4` or a self-managed host's.
    pub api: String,
    /// Numeric id or `group/project` path (URL-encoded here).
    pub id: String,
}

impl GitlabProject {
    /// `{api}/projects/{id}{path}`, the id URL-encoded (`group%2Fproject`).
    pub(crate) fn url(&self, path: &str) -> String {
        let id = crate::providers::http::encode_component(&self.id);
        format!("{}/projects/{id}{path}", self.api.trim_end_matches('/'))
    }
}

/// A GitLab user as embedded in MRs, notes and approvals.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct User {
    pub(crate) username: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_paths_are_url_encoded() {
        let p = GitlabProject {
            api: "https://gitlab.com/api/v4/".into(),
            id: "acme/widgets".into(),
        };
        assert_eq!(
            p.url("/merge_requests"),
            "https://gitlab.com/api/v4/projects/acme%2Fwidgets/merge_requests"
        );
    }
}
