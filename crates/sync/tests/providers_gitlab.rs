//! GitLab connector against the fake server: Link and X-Next-Page pagination, review
//! reconstruction from notes and approvals (§6), diff-based size, incremental passes with ETags,
//! rate limits, partial runs and deferral.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use support::fake::{Canned, Fake};
use support::{at, gl, t0};
use sync::providers::gitlab::{self, GitlabProject};
use sync::providers::records::{PrState, PullRequest, ReviewState, SizeState};
use sync::providers::{Error, PassEnd, PassInput};

fn project(fake: &Fake) -> GitlabProject {
    GitlabProject {
        api: format!("{}/api/v4", fake.base),
        id: "42".into(),
    }
}

fn by_iid(items: &[PullRequest]) -> BTreeMap<i64, PullRequest> {
    items.iter().map(|p| (p.number, p.clone())).collect()
}

fn stored(items: &[PullRequest]) -> HashMap<String, DateTime<Utc>> {
    items
        .iter()
        .map(|p| (p.number.to_string(), p.updated_at))
        .collect()
}

fn is_detail(path: &str) -> bool {
    path.starts_with("/api/v4/projects/42/merge_requests/")
}

#[tokio::test]
async fn pages_by_link_then_x_next_page_and_rebuilds_reviews_from_notes() {
    let fake = Fake::start("gitlab").await;
    let c = gl();
    let etags = HashMap::new();
    let known = HashMap::new();
    let pass = gitlab::merge_requests(&c.http, &project(&fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert_eq!(pass.end, PassEnd::Complete);
    let mrs = by_iid(&pass.items);
    assert_eq!(mrs.keys().copied().collect::<Vec<_>>(), [7, 8, 9]);
    // 2 list pages + 3 × (detail, diffs, commits, notes, approvals).
    assert_eq!(c.http.requests(), 17);
    assert!(
        fake.hits()
            .iter()
            .all(|h| h.authorization.as_deref() == Some("glpat-fixture0000"))
    );
    assert_eq!(pass.cursor, Some(at("2024-03-04T10:00:00Z")));
    assert!(pass.etags.is_empty(), "a multi-page listing keeps no ETag");

    let golden = &mrs[&7];
    assert_eq!(golden.state, PrState::Merged);
    assert_eq!(golden.first_commit_at, Some(at("2024-03-01T09:00:00Z")));
    assert_eq!(golden.first_review_at, Some(at("2024-03-02T10:00:00Z")));
    assert_eq!(golden.last_approval_at, Some(at("2024-03-02T16:00:00Z")));
    let states: Vec<(&str, ReviewState, bool)> = golden
        .reviews
        .iter()
        .map(|r| {
            (
                r.reviewer_login.as_deref().unwrap(),
                r.state,
                r.submitted_at.is_some(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("ben", ReviewState::Commented, true),
            ("ben", ReviewState::Commented, true),
            ("dan", ReviewState::ChangesRequested, true),
            ("ben", ReviewState::Approved, true),
            ("carol", ReviewState::Approved, false),
        ],
        "the author's notes and unrelated system notes are no reviews; an approval without a note has no time"
    );
    assert_eq!(
        (golden.additions, golden.deletions, golden.changed_files),
        (Some(10), Some(1), Some(2))
    );
    assert_eq!(golden.size_state, SizeState::Complete);
    assert_eq!(
        golden.merge_commit_sha.as_deref(),
        Some("e5bd3914e2e596debea16f433f57875b5b90bcd6")
    );

    let draft = &mrs[&8];
    assert!(draft.is_draft && draft.state == PrState::Open);
    assert_eq!(
        draft.size_state,
        SizeState::Partial,
        "a collapsed diff makes the size partial"
    );
    assert!(draft.reviews.is_empty());

    let closed = &mrs[&9];
    assert_eq!(closed.state, PrState::Closed);
    assert_eq!(
        closed.reviews.iter().map(|r| r.state).collect::<Vec<_>>(),
        [ReviewState::Approved, ReviewState::Dismissed]
    );
}

#[tokio::test]
async fn incremental_passes_skip_details_then_get_a_304() {
    let fake = Fake::start("gitlab").await;
    let c = gl();
    let none = HashMap::new();
    let empty = HashMap::new();
    let full = gitlab::merge_requests(&c.http, &project(&fake), PassInput::fresh(&none, &empty))
        .await
        .unwrap();
    let known = stored(&full.items);
    fake.clear_log();

    // Nothing changed: the lookback re-reads the newest MR, which is unchanged.
    let second_client = gl();
    let second = gitlab::merge_requests(
        &second_client.http,
        &project(&fake),
        PassInput {
            cursor: full.cursor,
            ..PassInput::fresh(&none, &known)
        },
    )
    .await
    .unwrap();
    assert_eq!(second_client.http.requests(), 1);
    assert_eq!(fake.count(|h| is_detail(&h.path)), 0);
    assert!(second.items.is_empty());
    assert_eq!(second.counts.unchanged, 1);
    assert_eq!(second.cursor, full.cursor);
    assert!(
        fake.hits()[0]
            .query
            .contains("updated_after=2024-03-04T09:55:00Z")
    );
    let etags: HashMap<String, String> = second.etags.iter().cloned().collect();
    assert_eq!(etags.len(), 1, "a single-page listing keeps its ETag");

    // And the next pass gets a 304 for it.
    fake.clear_log();
    let third_client = gl();
    let third = gitlab::merge_requests(
        &third_client.http,
        &project(&fake),
        PassInput {
            cursor: second.cursor,
            ..PassInput::fresh(&etags, &known)
        },
    )
    .await
    .unwrap();
    assert_eq!(third_client.http.requests(), 1);
    assert_eq!(fake.hits()[0].status, 304);
    assert_eq!(third.counts.not_modified, 1);
}

#[tokio::test]
async fn a_429_honours_retry_after_else_ratelimit_reset() {
    let fake = Fake::start("gitlab").await;
    fake.inject(
        "GET",
        "/api/v4/projects/42/merge_requests/7",
        1,
        Canned::retry_after(429, 25),
    );
    let reset = (t0() + Duration::seconds(40)).timestamp().to_string();
    fake.inject(
        "GET",
        "/api/v4/projects/42/merge_requests/8/diffs",
        1,
        Canned::new(
            429,
            &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", &reset)],
            serde_json::json!({"message": "429 Too Many Requests"}),
        ),
    );
    let c = gl();
    let etags = HashMap::new();
    let known = HashMap::new();
    let pass = gitlab::merge_requests(&c.http, &project(&fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert_eq!(pass.items.len(), 3);
    // 25 s from Retry-After; then the reset is 40 s after t0, 25 s of which have passed.
    assert_eq!(c.waits_s(), [25, 16]);
}

#[tokio::test]
async fn unreadable_notes_make_the_pass_partial_and_hold_the_cursor() {
    let fake = Fake::start("gitlab").await;
    fake.inject(
        "GET",
        "/api/v4/projects/42/merge_requests/7/notes",
        10,
        Canned::server_error(500),
    );
    let c = gl();
    let etags = HashMap::new();
    let known = HashMap::new();
    let cursor = Some(at("2024-01-01T00:00:00Z"));
    let pass = gitlab::merge_requests(
        &c.http,
        &project(&fake),
        PassInput {
            cursor,
            ..PassInput::fresh(&etags, &known)
        },
    )
    .await
    .unwrap();
    assert!(pass.is_partial());
    assert_eq!(
        by_iid(&pass.items).keys().copied().collect::<Vec<_>>(),
        [8, 9]
    );
    assert_eq!(pass.cursor, cursor, "the MR cursor stays where it was");
    assert_eq!(
        fake.count(|h| h.path == "/api/v4/projects/42/merge_requests/7/notes"),
        6
    );
}

#[tokio::test]
async fn a_403_is_a_permission_error() {
    let fake = Fake::start("gitlab").await;
    fake.inject(
        "GET",
        "/api/v4/projects/42/merge_requests/9",
        3,
        Canned::new(403, &[], serde_json::json!({"message": "403 Forbidden"})),
    );
    let c = gl();
    let etags = HashMap::new();
    let known = HashMap::new();
    let err = gitlab::merge_requests(&c.http, &project(&fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Permission { .. }), "{err}");
    assert_eq!(
        fake.count(|h| h.path == "/api/v4/projects/42/merge_requests/9"),
        1
    );
}

#[tokio::test]
async fn a_long_retry_after_defers_and_the_resumed_pass_finishes_exactly_once() {
    let reference = {
        let fake = Fake::start("gitlab").await;
        let c = gl();
        let (e, k) = (HashMap::new(), HashMap::new());
        by_iid(
            &gitlab::merge_requests(&c.http, &project(&fake), PassInput::fresh(&e, &k))
                .await
                .unwrap()
                .items,
        )
    };
    let fake = Fake::start("gitlab").await;
    fake.inject(
        "GET",
        "/api/v4/projects/42/merge_requests/8",
        1,
        Canned::retry_after(429, 1200),
    );
    let c = gl();
    let etags = HashMap::new();
    let known = HashMap::new();
    let first = gitlab::merge_requests(&c.http, &project(&fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    let PassEnd::Deferred {
        resume_at,
        checkpoint,
    } = first.end.clone()
    else {
        panic!("expected a deferral, got {:?}", first.end);
    };
    assert_eq!(resume_at, t0() + Duration::seconds(1200));
    assert!(checkpoint.next.as_deref().unwrap().contains("page=2"));
    // GitLab's cursor advances after each page: the first page was done.
    assert_eq!(first.cursor, Some(at("2024-03-03T09:05:00Z")));

    let known = stored(&first.items);
    let c2 = gl();
    let second = gitlab::merge_requests(
        &c2.http,
        &project(&fake),
        PassInput {
            cursor: first.cursor,
            checkpoint: Some(&checkpoint),
            ..PassInput::fresh(&etags, &known)
        },
    )
    .await
    .unwrap();
    assert_eq!(second.end, PassEnd::Complete);
    let (a, b) = (by_iid(&first.items), by_iid(&second.items));
    assert!(a.keys().all(|k| !b.contains_key(k)));
    let mut union = a;
    union.extend(b);
    assert_eq!(union, reference);
    assert_eq!(second.cursor, Some(at("2024-03-04T10:00:00Z")));
}

#[tokio::test]
async fn test_connection_reads_the_username() {
    let fake = Fake::start("gitlab").await;
    let c = gl();
    let viewer =
        sync::providers::connection::test_connection(&c.http, &format!("{}/api/v4", fake.base))
            .await
            .unwrap();
    assert_eq!(viewer.id, "ana");
}
