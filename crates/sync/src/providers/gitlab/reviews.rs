//! Reviews rebuilt from merge request notes (spec §6): GitLab has no review objects, so the
//! notes of everyone but the author are read as reviews, and approvals without a matching note
//! are kept without a timestamp.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::User;
use crate::providers::records::{Review, ReviewState};
use crate::providers::timefmt;

/// A merge request note.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Note {
    pub(crate) id: i64,
    #[serde(default)]
    pub(crate) body: String,
    pub(crate) author: User,
    #[serde(deserialize_with = "timefmt::de")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(default)]
    pub(crate) system: bool,
}

/// The approvals endpoint's answer.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Approvals {
    #[serde(default)]
    pub(crate) approved_by: Vec<Approver>,
}

/// One approver.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Approver {
    pub(crate) user: User,
}

/// What a note means as a review, if anything.
fn review_state(note: &Note) -> Option<ReviewState> {
    if !note.system {
        // A discussion comment or a DiffNote on a line (`type` null, `DiscussionNote` or
        // `DiffNote`): all comments.
        return Some(ReviewState::Commented);
    }
    let body = note.body.to_lowercase();
    if body.contains("unapproved this merge request") {
        Some(ReviewState::Dismissed)
    } else if body.contains("approved this merge request") {
        Some(ReviewState::Approved)
    } else if body.contains("requested changes") {
        Some(ReviewState::ChangesRequested)
    } else {
        None
    }
}

/// The reviews of a merge request by `author`: one per note from someone else that reads as a
/// review, plus approvers with no "approved" note (no timestamp, ignored for timing).
pub(crate) fn rebuild(author: Option<&str>, notes: &[Note], approvals: &Approvals) -> Vec<Review> {
    let is_author = |login: &str| author.is_some_and(|a| a.eq_ignore_ascii_case(login));
    let mut out: Vec<Review> = notes
        .iter()
        .filter(|n| !is_author(&n.author.username))
        .filter_map(|n| {
            let state = review_state(n)?;
            Some(Review {
                review_id: n.id.to_string(),
                reviewer_login: Some(n.author.username.clone()),
                state,
                submitted_at: Some(n.created_at),
                is_self: false,
            })
        })
        .collect();
    for a in &approvals.approved_by {
        let login = &a.user.username;
        let noted = out.iter().any(|r| {
            r.state == ReviewState::Approved
                && r.reviewer_login
                    .as_deref()
                    .is_some_and(|l| l.eq_ignore_ascii_case(login))
        });
        if !noted {
            out.push(Review {
                review_id: format!("approval:{login}"),
                reviewer_login: Some(login.clone()),
                state: ReviewState::Approved,
                submitted_at: None,
                is_self: is_author(login),
            });
        }
    }
    out
}
