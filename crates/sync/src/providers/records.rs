//! The records connectors return, one type per table of migration 0005 (`pull_requests`,
//! `pull_request_commits`, `reviews`, `work_items`, `work_item_transitions`), with the raw
//! values kept beside the normalised ones so statuses can be re-mapped later (spec §7.1).
//! People are [`Observation`]s, ready for identity resolution (spec §8); `app` turns them into
//! `*_identity_id` columns.

use analytics::identity::{Alias, Observation};
use analytics::status_map::{Provider, Source};
use analytics::work_item::Status;
use chrono::{DateTime, Utc};

/// Where a pull request comes from (`pull_requests.provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeHost {
    /// GitHub.
    Github,
    /// GitLab (the number is the MR iid).
    Gitlab,
}

impl CodeHost {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            CodeHost::Github => "github",
            CodeHost::Gitlab => "gitlab",
        }
    }
}

/// `pull_requests.state`: merged when `merged_at` is set (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrState {
    /// Open.
    Open,
    /// Closed without merging.
    Closed,
    /// Merged.
    Merged,
}

impl PrState {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            PrState::Open => "open",
            PrState::Closed => "closed",
            PrState::Merged => "merged",
        }
    }
}

/// `pull_requests.size_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeState {
    /// Additions and deletions are exact.
    Complete,
    /// Some diffs were too large or collapsed (GitLab): a lower bound.
    Partial,
    /// Not known.
    Unknown,
}

impl SizeState {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            SizeState::Complete => "complete",
            SizeState::Partial => "partial",
            SizeState::Unknown => "unknown",
        }
    }
}

/// `reviews.state`; pending reviews are never returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewState {
    /// Approved.
    Approved,
    /// Changes requested.
    ChangesRequested,
    /// Commented.
    Commented,
    /// Dismissed (GitHub) or unapproved (GitLab).
    Dismissed,
}

impl ReviewState {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReviewState::Approved => "approved",
            ReviewState::ChangesRequested => "changes_requested",
            ReviewState::Commented => "commented",
            ReviewState::Dismissed => "dismissed",
        }
    }
}

/// One row of `pull_request_commits`, with the author kept for identity resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrCommit {
    /// Commit sha.
    pub sha: String,
    /// Author date (feeds `first_commit_at`, coding time).
    pub authored_at: DateTime<Utc>,
    /// The author as the provider reports it.
    pub author: Observation,
}

/// One row of `reviews`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// Provider id (GitHub review id, GitLab note id, or `approval:<username>`).
    pub review_id: String,
    /// Reviewer login.
    pub reviewer_login: Option<String>,
    /// State.
    pub state: ReviewState,
    /// When it was submitted. `None` only for a GitLab approval with no matching note, which
    /// is kept but ignored for timing (spec §6); the store may skip such rows, since
    /// `reviews.submitted_at` is NOT NULL.
    pub submitted_at: Option<DateTime<Utc>>,
    /// The PR author reviewing their own PR: stored, ignored by metrics.
    pub is_self: bool,
}

/// One row of `pull_requests`, with its commits and reviews.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRequest {
    /// GitHub or GitLab.
    pub provider: CodeHost,
    /// PR number or MR iid (natural key within the repo).
    pub number: i64,
    /// Provider's global id.
    pub external_id: String,
    /// Title.
    pub title: String,
    /// Open, closed or merged.
    pub state: PrState,
    /// Draft.
    pub is_draft: bool,
    /// Author login.
    pub author_login: Option<String>,
    /// Source branch.
    pub head_ref: Option<String>,
    /// Target branch.
    pub base_ref: Option<String>,
    /// Label names.
    pub labels: Vec<String>,
    /// Opened.
    pub created_at: DateTime<Utc>,
    /// Last update (what the incremental cursor follows).
    pub updated_at: DateTime<Utc>,
    /// Earliest commit author date.
    pub first_commit_at: Option<DateTime<Utc>>,
    /// Earliest non-self review that is not pending or dismissed.
    pub first_review_at: Option<DateTime<Utc>>,
    /// Earliest conversation comment by someone else (filled by the comment listing, which
    /// this module does not run yet).
    pub first_comment_at: Option<DateTime<Utc>>,
    /// Latest non-self approval before the merge.
    pub last_approval_at: Option<DateTime<Utc>>,
    /// Merged.
    pub merged_at: Option<DateTime<Utc>>,
    /// Closed (merged PRs are closed too).
    pub closed_at: Option<DateTime<Utc>>,
    /// Merge (or squash) commit.
    pub merge_commit_sha: Option<String>,
    /// Added lines.
    pub additions: Option<i64>,
    /// Deleted lines.
    pub deletions: Option<i64>,
    /// Files changed.
    pub changed_files: Option<i64>,
    /// Commits (the provider's count, which may exceed `commits.len()`).
    pub commit_count: Option<i64>,
    /// Whether the size is exact.
    pub size_state: SizeState,
    /// The commits listed (GitHub lists at most 250).
    pub commits: Vec<PrCommit>,
    /// Reviews, pending ones left out.
    pub reviews: Vec<Review>,
    /// The commit listing was cut by the provider (`data_quality.truncated`).
    pub commits_truncated: bool,
}

/// `first_review_at` and `last_approval_at` of a PR (spec §5): the earliest non-self review
/// that is not dismissed, and the latest non-self approval before the merge (any time while
/// the PR is not merged). Reviews without a timestamp are ignored.
pub fn review_times(
    reviews: &[Review],
    merged_at: Option<DateTime<Utc>>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let timed = || {
        reviews
            .iter()
            .filter(|r| !r.is_self)
            .filter_map(|r| r.submitted_at.map(|at| (r.state, at)))
    };
    let first = timed()
        .filter(|(s, _)| *s != ReviewState::Dismissed)
        .map(|(_, at)| at)
        .min();
    let last_approval = timed()
        .filter(|(s, at)| *s == ReviewState::Approved && merged_at.is_none_or(|m| *at <= m))
        .map(|(_, at)| at)
        .max();
    (first, last_approval)
}

/// Which work-item provider (`work_items.provider`, `status_mappings.provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkProvider {
    /// Jira Cloud.
    Jira,
    /// Linear.
    Linear,
    /// GitHub Issues.
    GithubIssues,
}

impl WorkProvider {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            WorkProvider::Jira => "jira",
            WorkProvider::Linear => "linear",
            WorkProvider::GithubIssues => "github",
        }
    }

    /// The status-map provider.
    pub const fn status_provider(self) -> Provider {
        match self {
            WorkProvider::Jira => Provider::Jira,
            WorkProvider::Linear => Provider::Linear,
            WorkProvider::GithubIssues => Provider::GithubIssues,
        }
    }
}

/// `work_items.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemType {
    /// Story.
    Story,
    /// Task (and sub-task).
    Task,
    /// Bug.
    Bug,
    /// Epic.
    Epic,
    /// Incident.
    Incident,
    /// Chore.
    Chore,
    /// Anything else.
    Issue,
}

impl ItemType {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ItemType::Story => "story",
            ItemType::Task => "task",
            ItemType::Bug => "bug",
            ItemType::Epic => "epic",
            ItemType::Incident => "incident",
            ItemType::Chore => "chore",
            ItemType::Issue => "issue",
        }
    }

    /// The type from a Jira issue type name, else from labels (`bug`, `type: bug`,
    /// `incident`, `chore`; spec §7.1 "Types follow the same pattern").
    pub fn from_raw(type_name: Option<&str>, labels: &[String]) -> ItemType {
        let by_name = |n: &str| match analytics::status_map::normalize(n).as_str() {
            "story" | "user story" => Some(ItemType::Story),
            "task" | "sub-task" | "subtask" => Some(ItemType::Task),
            "bug" | "defect" => Some(ItemType::Bug),
            "epic" => Some(ItemType::Epic),
            "incident" => Some(ItemType::Incident),
            "chore" => Some(ItemType::Chore),
            _ => None,
        };
        type_name
            .and_then(by_name)
            .or_else(|| {
                labels.iter().find_map(|l| {
                    let l = analytics::status_map::normalize(l);
                    by_name(l.strip_prefix("type:").map_or(l.as_str(), str::trim))
                })
            })
            .unwrap_or(ItemType::Issue)
    }
}

/// `work_item_transitions.source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransitionSource {
    /// Jira changelog.
    Changelog,
    /// Linear issue history.
    History,
    /// GitHub issue events (§7.4's synthetic transitions).
    Event,
    /// Made up by the sync (none yet).
    Synthetic,
}

impl TransitionSource {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransitionSource::Changelog => "changelog",
            TransitionSource::History => "history",
            TransitionSource::Event => "event",
            TransitionSource::Synthetic => "synthetic",
        }
    }
}

/// One row of `work_item_transitions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// Order among the item's transitions (stable for equal timestamps).
    pub seq: u32,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Normalised status before (unknown for a first history entry).
    pub from_status: Option<Status>,
    /// Normalised status after.
    pub to_status: Status,
    /// Raw status before.
    pub from_raw: Option<String>,
    /// Raw status after.
    pub to_raw: Option<String>,
    /// Who made the change.
    pub actor: Option<Observation>,
    /// Where it came from.
    pub source: TransitionSource,
}

/// One row of `work_items`, with its transitions.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkItem {
    /// Provider.
    pub provider: WorkProvider,
    /// Natural key: `ABC-123`, `owner/repo#12`, `ENG-42`.
    pub external_key: String,
    /// Provider's own id (Jira id, Linear uuid, GitHub node id).
    pub external_id: String,
    /// Jira project key, Linear team key, GitHub `owner/repo`.
    pub project_key: String,
    /// Title.
    pub title: String,
    /// Normalised type.
    pub item_type: ItemType,
    /// Raw type name.
    pub type_raw: Option<String>,
    /// Normalised status (spec §7.1).
    pub status: Status,
    /// Which rule gave `status`.
    pub status_source: Source,
    /// Raw status name (GitHub: `open`/`closed`).
    pub status_raw: String,
    /// Jira `statusCategory.key`, Linear `state.type`, GitHub `state_reason`.
    pub status_category: Option<String>,
    /// Jira resolution name.
    pub resolution_raw: Option<String>,
    /// Labels.
    pub labels: Vec<String>,
    /// Assignee.
    pub assignee: Option<Observation>,
    /// Reporter or creator.
    pub reporter: Option<Observation>,
    /// Story points (0 is a real estimate).
    pub story_points: Option<f64>,
    /// Parent key (Jira parent, Linear parent identifier).
    pub parent_key: Option<String>,
    /// Web URL.
    pub url: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated (what the cursor follows).
    pub updated_at: DateTime<Utc>,
    /// Provider's own start instant (Linear `startedAt`), used only without history (§7.3).
    pub started_at: Option<DateTime<Utc>>,
    /// Provider's own completion instant (Jira `resolutiondate`, Linear `completedAt`).
    pub completed_at: Option<DateTime<Utc>>,
    /// Provider's own cancel instant (Linear `canceledAt`).
    pub canceled_at: Option<DateTime<Utc>>,
    /// Status changes, in time order.
    pub transitions: Vec<Transition>,
}

/// A distinct raw status seen during a pass, with its provider category, for the mapping page
/// (spec §7.1 "Remapping").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawStatus {
    /// The raw name as sent.
    pub name: String,
    /// The provider category, when known.
    pub category: Option<String>,
}

/// The distinct raw statuses of `items`, sorted.
pub fn raw_statuses(items: &[WorkItem]) -> Vec<RawStatus> {
    let mut out: Vec<RawStatus> = items
        .iter()
        .map(|i| RawStatus {
            name: i.status_raw.clone(),
            category: i.status_category.clone(),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// An observation of a provider account (login or account id), with optional email and name.
pub(crate) fn person(account: Alias, email: Option<String>, name: Option<String>) -> Observation {
    Observation {
        email,
        account: Some(account),
        name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_709_251_200 + i64::from(h) * 3600, 0).unwrap_or_default()
    }

    fn review(state: ReviewState, h: u32, is_self: bool) -> Review {
        Review {
            review_id: h.to_string(),
            reviewer_login: None,
            state,
            submitted_at: Some(at(h)),
            is_self,
        }
    }

    #[test]
    fn review_times_follow_the_spec() {
        let reviews = [
            review(ReviewState::Commented, 1, true),
            review(ReviewState::Dismissed, 2, false),
            review(ReviewState::ChangesRequested, 3, false),
            review(ReviewState::Approved, 5, false),
            review(ReviewState::Approved, 9, false),
        ];
        assert_eq!(
            review_times(&reviews, Some(at(8))),
            (Some(at(3)), Some(at(5)))
        );
        assert_eq!(review_times(&reviews, None), (Some(at(3)), Some(at(9))));
    }

    #[test]
    fn item_types_from_names_and_labels() {
        assert_eq!(ItemType::from_raw(Some("Sub-task"), &[]), ItemType::Task);
        assert_eq!(
            ItemType::from_raw(None, &["Type: Bug".to_owned()]),
            ItemType::Bug
        );
        assert_eq!(ItemType::from_raw(Some("Spike"), &[]), ItemType::Issue);
    }
}
