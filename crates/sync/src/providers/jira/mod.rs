//! Jira Cloud REST v3 (spec §7.2): issues from the enhanced JQL search (`nextPageToken` until
//! `isLast`), with status transitions from the changelog (paged separately when long).

mod changelog;
mod search;

use chrono::FixedOffset;

pub use search::issues;

/// One Jira Cloud site and the projects to sync from it.
#[derive(Debug, Clone)]
pub struct JiraSite {
    /// Site base: `https://<site>.atlassian.net`.
    pub base: String,
    /// Project keys (`project in (…)`).
    pub projects: Vec<String>,
    /// The custom field holding story points (`customfield_10016` on most sites).
    pub story_points_field: Option<String>,
    /// The offset of the time zone `GET /rest/api/3/myself` reports: JQL dates are read in
    /// the user's zone, so the cursor is written in it. The caller resolves the zone name
    /// (see [`crate::providers::connection::Viewer::time_zone`]) to its current offset.
    pub utc_offset: FixedOffset,
}

impl JiraSite {
    /// `{base}{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.trim_end_matches('/'))
    }
}
