//! Work item status normalisation (analytics spec §7.1): a provider's raw status, category,
//! labels and resolution resolve to one of the seven normalised statuses, with the source of
//! the answer so the mapping page can show it and list unmapped raw values.

use std::collections::HashMap;

use crate::work_item::Status;

/// Where a work item comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Jira Cloud.
    Jira,
    /// Linear.
    Linear,
    /// GitHub Issues.
    GithubIssues,
}

/// What a provider says about an item's status.
#[derive(Debug, Clone, Default)]
pub struct Raw<'a> {
    /// The status name (Jira status, Linear state name; GitHub: empty).
    pub status: &'a str,
    /// Jira `statusCategory.key` (`new`, `indeterminate`, `done`) or Linear `state.type`.
    pub category: Option<&'a str>,
    /// GitHub: whether the issue is open.
    pub open: Option<bool>,
    /// GitHub `state_reason` of a closed issue.
    pub state_reason: Option<&'a str>,
    /// Labels (GitHub Issues).
    pub labels: &'a [&'a str],
    /// Jira `resolution` name.
    pub resolution: Option<&'a str>,
}

/// Which rule gave the answer (§7.1 resolution order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A special rule (closed GitHub issue, Jira resolution, Jira done category).
    Special,
    /// The org's `status_mappings` row.
    OrgStatus,
    /// An org label mapping (GitHub open issues).
    OrgLabel,
    /// A built-in label (GitHub open issues).
    BuiltinLabel,
    /// The built-in name table.
    BuiltinName,
    /// The provider category (Jira category, Linear type, GitHub open).
    Category,
    /// Nothing matched: `todo` if open, `done` if closed; listed as unmapped.
    Unmapped,
}

impl Source {
    /// The name stored in `work_items.status_source` and shown by the mapping view.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Special => "special",
            Source::OrgStatus => "org_status",
            Source::OrgLabel => "org_label",
            Source::BuiltinLabel => "builtin_label",
            Source::BuiltinName => "builtin_name",
            Source::Category => "category",
            Source::Unmapped => "unmapped",
        }
    }
}

/// The org's own mappings, keyed by normalised raw values.
#[derive(Debug, Clone, Default)]
pub struct OrgMappings {
    /// (provider, raw status) → status.
    pub statuses: HashMap<(Provider, String), Status>,
    /// GitHub label → status.
    pub labels: HashMap<String, Status>,
}

/// Trims, lower-cases and collapses whitespace: raw values are compared in this form.
pub fn normalize(raw: &str) -> String {
    raw.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn builtin_name(name: &str) -> Option<Status> {
    use Status::*;
    Some(match name {
        "backlog" | "icebox" | "triage" => Backlog,
        "to do" | "todo" | "open" | "ready" | "selected for development" => Todo,
        "in progress" | "doing" | "wip" | "in development" => InProgress,
        "in review" | "code review" | "review" | "qa" | "in qa" | "testing" => InReview,
        "blocked" | "on hold" | "waiting" => Blocked,
        "done" | "closed" | "resolved" | "released" | "complete" => Done,
        "canceled" | "cancelled" | "won't do" | "won't fix" | "duplicate" | "rejected" => Canceled,
        _ => return None,
    })
}

fn builtin_label(label: &str) -> Option<Status> {
    use Status::*;
    Some(match label {
        "backlog" => Backlog,
        "todo" | "ready" => Todo,
        "in progress" | "doing" | "wip" => InProgress,
        "in review" | "needs review" => InReview,
        "blocked" | "on hold" => Blocked,
        _ => return None,
    })
}

fn category(provider: Provider, c: &str) -> Option<Status> {
    use Status::*;
    Some(match (provider, c) {
        (Provider::Jira, "new") => Todo,
        (Provider::Jira, "indeterminate") => InProgress,
        (Provider::Jira, "done") => Done,
        (Provider::Linear, "backlog" | "triage") => Backlog,
        (Provider::Linear, "unstarted") => Todo,
        (Provider::Linear, "started") => InProgress,
        (Provider::Linear, "completed") => Done,
        (Provider::Linear, "canceled") => Canceled,
        _ => return None,
    })
}

/// Label precedence for open GitHub issues: blocked > in_review > in_progress > todo > backlog.
fn label_rank(s: Status) -> u8 {
    match s {
        Status::Blocked => 5,
        Status::InReview => 4,
        Status::InProgress => 3,
        Status::Todo => 2,
        Status::Backlog => 1,
        Status::Done | Status::Canceled => 0,
    }
}

const JIRA_CANCEL_RESOLUTIONS: [&str; 5] = [
    "won't do",
    "won't fix",
    "duplicate",
    "cannot reproduce",
    "declined",
];

/// Resolves a raw status (§7.1), first hit wins.
pub fn resolve(provider: Provider, raw: &Raw<'_>, org: &OrgMappings) -> (Status, Source) {
    let name = normalize(raw.status);
    let cat = raw.category.map(normalize);
    // Special rules first: a closed GitHub issue is done or canceled whatever its labels.
    if provider == Provider::GithubIssues && raw.open == Some(false) {
        let reason = raw.state_reason.map(normalize);
        let canceled = matches!(reason.as_deref(), Some("not_planned" | "duplicate"));
        return (
            if canceled {
                Status::Canceled
            } else {
                Status::Done
            },
            Source::Special,
        );
    }
    let jira_done = provider == Provider::Jira && cat.as_deref() == Some("done");
    if jira_done
        && raw
            .resolution
            .map(normalize)
            .is_some_and(|r| JIRA_CANCEL_RESOLUTIONS.contains(&r.as_str()))
    {
        return (Status::Canceled, Source::Special);
    }
    // A name mapping that contradicts Jira's done category gives done.
    let terminal = |s: Status, src| {
        if jira_done && !matches!(s, Status::Done | Status::Canceled) {
            (Status::Done, Source::Special)
        } else {
            (s, src)
        }
    };
    if let Some(s) = org.statuses.get(&(provider, name.clone())) {
        return terminal(*s, Source::OrgStatus);
    }
    if provider == Provider::GithubIssues {
        let labels: Vec<String> = raw.labels.iter().map(|l| normalize(l)).collect();
        let best = |f: &dyn Fn(&str) -> Option<Status>| {
            labels
                .iter()
                .filter_map(|l| f(l))
                .max_by_key(|s| label_rank(*s))
        };
        if let Some(s) = best(&|l| org.labels.get(l).copied()) {
            return (s, Source::OrgLabel);
        }
        if let Some(s) = best(&builtin_label) {
            return (s, Source::BuiltinLabel);
        }
    }
    if let Some(s) = builtin_name(&name) {
        return terminal(s, Source::BuiltinName);
    }
    if let Some(s) = cat.as_deref().and_then(|c| category(provider, c)) {
        return (s, Source::Category);
    }
    if provider == Provider::GithubIssues && raw.open == Some(true) {
        return (Status::Todo, Source::Category);
    }
    let closed = raw.open == Some(false);
    (
        if closed { Status::Done } else { Status::Todo },
        Source::Unmapped,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jira<'a>(status: &'a str, category: &'a str, resolution: Option<&'a str>) -> Raw<'a> {
        Raw {
            status,
            category: Some(category),
            resolution,
            ..Raw::default()
        }
    }

    #[test]
    fn golden_vectors_of_the_spec() {
        let none = OrgMappings::default();
        // Jira "Ready for QA" (category indeterminate) → in_progress, in_review once mapped.
        let qa = jira("Ready  for QA ", "indeterminate", None);
        assert_eq!(
            resolve(Provider::Jira, &qa, &none),
            (Status::InProgress, Source::Category)
        );
        let mut org = OrgMappings::default();
        org.statuses
            .insert((Provider::Jira, "ready for qa".into()), Status::InReview);
        assert_eq!(
            resolve(Provider::Jira, &qa, &org),
            (Status::InReview, Source::OrgStatus)
        );
        // A closed GitHub issue labelled blocked → done.
        let closed = Raw {
            open: Some(false),
            labels: &["blocked"],
            ..Raw::default()
        };
        assert_eq!(
            resolve(Provider::GithubIssues, &closed, &none).0,
            Status::Done
        );
        // Jira Done with resolution "Duplicate" → canceled.
        let dup = jira("Done", "done", Some("Duplicate"));
        assert_eq!(
            resolve(Provider::Jira, &dup, &none),
            (Status::Canceled, Source::Special)
        );
    }

    #[test]
    fn github_labels_follow_their_precedence_and_closed_reasons() {
        let none = OrgMappings::default();
        let open = |labels| Raw {
            open: Some(true),
            labels,
            ..Raw::default()
        };
        assert_eq!(
            resolve(Provider::GithubIssues, &open(&["WIP", "on hold"]), &none),
            (Status::Blocked, Source::BuiltinLabel)
        );
        assert_eq!(
            resolve(
                Provider::GithubIssues,
                &open(&["needs review", "todo"]),
                &none
            )
            .0,
            Status::InReview
        );
        assert_eq!(
            resolve(Provider::GithubIssues, &open(&["bug"]), &none),
            (Status::Todo, Source::Category)
        );
        let mut org = OrgMappings::default();
        org.labels.insert("ship it".into(), Status::InReview);
        assert_eq!(
            resolve(Provider::GithubIssues, &open(&["blocked", "Ship It"]), &org),
            (Status::InReview, Source::OrgLabel)
        );
        let not_planned = Raw {
            open: Some(false),
            state_reason: Some("not_planned"),
            labels: &["wip"],
            ..Raw::default()
        };
        assert_eq!(
            resolve(Provider::GithubIssues, &not_planned, &none).0,
            Status::Canceled
        );
    }

    #[test]
    fn names_categories_and_the_fallback() {
        let none = OrgMappings::default();
        assert_eq!(
            resolve(
                Provider::Jira,
                &jira("Selected for Development", "new", None),
                &none
            ),
            (Status::Todo, Source::BuiltinName)
        );
        assert_eq!(
            resolve(
                Provider::Linear,
                &Raw {
                    status: "Triage",
                    category: Some("triage"),
                    ..Raw::default()
                },
                &none
            )
            .0,
            Status::Backlog
        );
        assert_eq!(
            resolve(
                Provider::Linear,
                &Raw {
                    status: "Shipped",
                    category: Some("completed"),
                    ..Raw::default()
                },
                &none
            ),
            (Status::Done, Source::Category)
        );
        // A name that says "in progress" under Jira's done category is done.
        assert_eq!(
            resolve(Provider::Jira, &jira("In Progress", "done", None), &none),
            (Status::Done, Source::Special)
        );
        assert_eq!(
            resolve(Provider::Jira, &jira("Frobbing", "weird", None), &none),
            (Status::Todo, Source::Unmapped)
        );
        assert_eq!(normalize("  In \t Review "), "in review");
    }
}
