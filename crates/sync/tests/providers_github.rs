//! GitHub connector against the fake server: Link pagination, ETags, the §3.3 rate-limit rules,
//! deferral and resume, review timing (§5) and issue transitions (§7.4).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::{BTreeMap, HashMap};

use analytics::status_map::OrgMappings;
use analytics::work_item::Status;
use chrono::{DateTime, Duration, Utc};
use domain::Clock;
use support::fake::{Canned, Fake};
use support::{at, gh, t0};
use sync::providers::github::{self, GithubRepo};
use sync::providers::records::{PrState, PullRequest, ReviewState, WorkItem};
use sync::providers::{Error, PassEnd, PassInput};

fn repo(fake: &Fake) -> GithubRepo {
    GithubRepo {
        api: fake.base.clone(),
        owner: "octo-org".into(),
        name: "hello-world".into(),
    }
}

fn by_number(items: &[PullRequest]) -> BTreeMap<i64, PullRequest> {
    items.iter().map(|p| (p.number, p.clone())).collect()
}

/// What the store would hold after writing `items`.
fn stored(items: &[PullRequest]) -> HashMap<String, DateTime<Utc>> {
    items
        .iter()
        .map(|p| (p.number.to_string(), p.updated_at))
        .collect()
}

fn is_detail(path: &str) -> bool {
    path.starts_with("/repos/octo-org/hello-world/pulls/")
}

async fn full_pass(fake: &Fake) -> Vec<PullRequest> {
    let c = gh();
    let etags = HashMap::new();
    let known = HashMap::new();
    let pass = github::pull_requests(&c.http, &repo(fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert_eq!(pass.end, PassEnd::Complete);
    pass.items
}

#[tokio::test]
async fn lists_every_page_by_link_and_times_reviews() {
    let fake = Fake::start("github").await;
    let c = gh();
    let etags = HashMap::new();
    let known = HashMap::new();
    let pass = github::pull_requests(&c.http, &repo(&fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert_eq!(pass.end, PassEnd::Complete);
    let prs = by_number(&pass.items);
    assert_eq!(prs.keys().copied().collect::<Vec<_>>(), [1345, 1346, 1347]);
    // 2 list pages (the second via Link to /repositories/…) + 3 × (detail, commits, reviews).
    assert_eq!(c.http.requests(), 11);
    assert_eq!(fake.count(|h| h.path == "/repositories/1296269/pulls"), 1);
    assert!(
        fake.hits()
            .iter()
            .all(|h| h.authorization.as_deref() == Some("Bearer ghp_fixture0000token"))
    );
    // The cursor is the largest updated_at observed; the first page's ETag is kept.
    assert_eq!(pass.cursor, Some(at("2024-03-03T09:05:00Z")));
    assert_eq!(pass.etags.len(), 1);
    assert!(
        pass.etags[0]
            .0
            .ends_with("/pulls?state=all&sort=updated&direction=desc&per_page=100")
    );

    // §9.7's PR golden timestamps, from the reviews: the self-review and the pending one do
    // not count.
    let golden = &prs[&1347];
    assert_eq!(golden.state, PrState::Merged);
    assert_eq!(golden.first_commit_at, Some(at("2024-03-01T09:00:00Z")));
    assert_eq!(golden.created_at, at("2024-03-01T15:00:00Z"));
    assert_eq!(golden.first_review_at, Some(at("2024-03-02T10:00:00Z")));
    assert_eq!(golden.last_approval_at, Some(at("2024-03-02T16:00:00Z")));
    assert_eq!(golden.merged_at, Some(at("2024-03-03T09:00:00Z")));
    assert_eq!(
        (golden.additions, golden.deletions, golden.commit_count),
        (Some(10), Some(2), Some(2))
    );
    assert_eq!(
        golden.reviews.len(),
        3,
        "the pending review is not returned"
    );
    assert!(
        golden
            .reviews
            .iter()
            .any(|r| r.is_self && r.reviewer_login.as_deref() == Some("octocat"))
    );
    assert_eq!(golden.labels, ["enhancement"]);
    let draft = &prs[&1346];
    assert!(draft.is_draft && draft.state == PrState::Open && draft.first_review_at.is_none());
    let closed = &prs[&1345];
    assert_eq!(closed.state, PrState::Closed);
    assert_eq!(closed.first_review_at, Some(at("2024-02-19T09:00:00Z")));
    assert!(
        closed
            .reviews
            .iter()
            .any(|r| r.state == ReviewState::Dismissed)
    );
}

#[tokio::test]
async fn an_unchanged_repository_costs_one_conditional_request() {
    let fake = Fake::start("github").await;
    let first = gh();
    let none = HashMap::new();
    let known0 = HashMap::new();
    let pass1 = github::pull_requests(&first.http, &repo(&fake), PassInput::fresh(&none, &known0))
        .await
        .unwrap();
    let etags: HashMap<String, String> = pass1.etags.iter().cloned().collect();
    let known = stored(&pass1.items);
    fake.clear_log();

    let second = gh();
    let pass2 = github::pull_requests(
        &second.http,
        &repo(&fake),
        PassInput {
            cursor: pass1.cursor,
            ..PassInput::fresh(&etags, &known)
        },
    )
    .await
    .unwrap();
    assert_eq!(second.http.requests(), 1);
    let hits = fake.hits();
    assert_eq!((hits.len(), hits[0].status), (1, 304));
    assert!(hits[0].if_none_match.is_some());
    assert_eq!(fake.count(|h| is_detail(&h.path)), 0);
    assert!(pass2.items.is_empty());
    assert_eq!(pass2.counts.not_modified, 1);
    assert_eq!(
        pass2.cursor, pass1.cursor,
        "the cursor only moves to observed values"
    );
}

#[tokio::test]
async fn listed_items_with_the_stored_updated_at_skip_their_details() {
    let fake = Fake::start("github").await;
    let all = full_pass(&fake).await;
    fake.clear_log();
    // No ETags stored (say they expired): the list is read again, details are not.
    let c = gh();
    let etags = HashMap::new();
    let known = stored(&all);
    let pass = github::pull_requests(&c.http, &repo(&fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert!(pass.items.is_empty());
    assert_eq!((pass.counts.listed, pass.counts.unchanged), (3, 3));
    assert_eq!(fake.count(|h| is_detail(&h.path)), 0);
    assert_eq!(c.http.requests(), 2);
}

#[tokio::test]
async fn a_secondary_limit_waits_at_least_a_minute_then_succeeds() {
    let fake = Fake::start("github").await;
    fake.inject(
        "GET",
        "/repos/octo-org/hello-world/pulls/1347",
        1,
        Canned::github_secondary(),
    );
    let c = gh();
    let etags = HashMap::new();
    let known = HashMap::new();
    let pass = github::pull_requests(&c.http, &repo(&fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert_eq!(pass.items.len(), 3);
    assert_eq!(c.waits_s(), [60]);
    assert_eq!(c.http.requests(), 12);
    assert_eq!(c.clock.now(), t0() + Duration::seconds(60));
}

#[tokio::test]
async fn a_repeated_secondary_limit_backs_off_from_the_minute() {
    let fake = Fake::start("github").await;
    fake.inject(
        "GET",
        "/repos/octo-org/hello-world/pulls/1346",
        3,
        Canned::github_secondary(),
    );
    let c = gh();
    let etags = HashMap::new();
    let known = HashMap::new();
    github::pull_requests(&c.http, &repo(&fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert_eq!(c.waits_s(), [60, 120, 240]);
}

#[tokio::test]
async fn a_429_honours_retry_after() {
    let fake = Fake::start("github").await;
    fake.inject(
        "GET",
        "/repos/octo-org/hello-world/pulls/1347/reviews",
        1,
        Canned::retry_after(429, 17),
    );
    let c = gh();
    let etags = HashMap::new();
    let known = HashMap::new();
    let pass = github::pull_requests(&c.http, &repo(&fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert_eq!(pass.items.len(), 3);
    assert_eq!(c.waits_s(), [17]);
}

#[tokio::test]
async fn server_errors_back_off_with_jitter_then_succeed() {
    let fake = Fake::start("github").await;
    fake.inject(
        "GET",
        "/repos/octo-org/hello-world/pulls/1346",
        3,
        Canned::server_error(502),
    );
    let c = gh();
    let etags = HashMap::new();
    let known = HashMap::new();
    let pass = github::pull_requests(&c.http, &repo(&fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert_eq!(pass.items.len(), 3);
    let waits = c.sleeper.waits();
    assert_eq!(waits.len(), 3);
    for (attempt, w) in waits.iter().enumerate() {
        assert!(
            w.as_millis() <= 1000 << attempt,
            "attempt {attempt} waited {w:?}"
        );
    }
    assert_eq!(
        fake.count(|h| h.path == "/repos/octo-org/hello-world/pulls/1346"),
        4
    );
}

#[tokio::test]
async fn server_errors_give_up_after_six_attempts() {
    let fake = Fake::start("github").await;
    fake.inject(
        "GET",
        "/repos/octo-org/hello-world/pulls/1346",
        50,
        Canned::server_error(503),
    );
    let c = gh();
    let etags = HashMap::new();
    let known = HashMap::new();
    let err = github::pull_requests(&c.http, &repo(&fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Exhausted { attempts: 6, .. }), "{err}");
    assert_eq!(
        fake.count(|h| h.path == "/repos/octo-org/hello-world/pulls/1346"),
        6
    );
    assert_eq!(c.sleeper.waits().len(), 5);
}

#[tokio::test]
async fn a_permission_403_is_not_retried() {
    let fake = Fake::start("github").await;
    fake.inject(
        "GET",
        "/repos/octo-org/hello-world/pulls/1347/commits",
        5,
        Canned::github_forbidden(),
    );
    let c = gh();
    let etags = HashMap::new();
    let known = HashMap::new();
    let err = github::pull_requests(&c.http, &repo(&fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Permission { .. }), "{err}");
    assert!(
        !err.to_string().contains("ghp_"),
        "errors never carry the token"
    );
    assert_eq!(
        fake.count(|h| h.path == "/repos/octo-org/hello-world/pulls/1347/commits"),
        1
    );
    assert!(c.sleeper.waits().is_empty());
}

#[tokio::test]
async fn a_wait_beyond_the_budget_defers_and_the_resumed_pass_finishes_exactly_once() {
    let reference = by_number(&full_pass(&Fake::start("github").await).await);

    let fake = Fake::start("github").await;
    let reset = (t0() + Duration::hours(2)).timestamp();
    fake.inject(
        "GET",
        "/repos/octo-org/hello-world/pulls/1345",
        1,
        Canned::github_exhausted(reset),
    );
    let c = gh();
    let etags = HashMap::new();
    let known = HashMap::new();
    let first = github::pull_requests(&c.http, &repo(&fake), PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    let PassEnd::Deferred {
        resume_at,
        checkpoint,
    } = first.end.clone()
    else {
        panic!("expected a deferral, got {:?}", first.end);
    };
    assert_eq!(resume_at, t0() + Duration::seconds(7201));
    assert!(c.sleeper.waits().is_empty(), "a deferral never sleeps");
    assert!(
        checkpoint
            .next
            .as_deref()
            .unwrap()
            .contains("/repositories/1296269/pulls")
    );
    assert_eq!(first.cursor, None, "the cursor waits for a complete pass");
    assert!(first.etags.is_empty());

    // The store writes what came back, then the scheduler resumes from the checkpoint.
    let known = stored(&first.items);
    let c2 = gh();
    let second = github::pull_requests(
        &c2.http,
        &repo(&fake),
        PassInput {
            cursor: first.cursor,
            checkpoint: Some(&checkpoint),
            ..PassInput::fresh(&etags, &known)
        },
    )
    .await
    .unwrap();
    assert_eq!(second.end, PassEnd::Complete);
    let a = by_number(&first.items);
    let b = by_number(&second.items);
    assert!(
        a.keys().all(|k| !b.contains_key(k)),
        "no item is fetched twice"
    );
    let mut union = a;
    union.extend(b);
    assert_eq!(union, reference);
    assert_eq!(second.cursor, Some(at("2024-03-03T09:05:00Z")));
}

fn issues_by_key(items: &[WorkItem]) -> BTreeMap<String, WorkItem> {
    items
        .iter()
        .map(|i| (i.external_key.clone(), i.clone()))
        .collect()
}

#[tokio::test]
async fn issues_skip_pull_requests_and_rebuild_transitions_from_events() {
    let fake = Fake::start("github").await;
    let c = gh();
    let etags = HashMap::new();
    let known = HashMap::new();
    let pass = github::issues(
        &c.http,
        &repo(&fake),
        &OrgMappings::default(),
        PassInput::fresh(&etags, &known),
    )
    .await
    .unwrap();
    let items = issues_by_key(&pass.items);
    assert_eq!(
        items.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "octo-org/hello-world#1340",
            "octo-org/hello-world#1341",
            "octo-org/hello-world#1342"
        ]
    );
    // 2 list pages + events of the 3 issues; the PR listed among them gets no events call.
    assert_eq!(c.http.requests(), 5);
    assert_eq!(fake.count(|h| h.path.contains("/issues/1347")), 0);

    // §9.7: a closed issue labelled blocked is done; its events give the path there.
    let blocked = &items["octo-org/hello-world#1341"];
    assert_eq!(blocked.status, Status::Done);
    let path: Vec<Status> = blocked.transitions.iter().map(|t| t.to_status).collect();
    assert_eq!(
        path,
        [
            Status::InProgress,
            Status::Todo,
            Status::Blocked,
            Status::Done
        ]
    );
    assert_eq!(blocked.transitions[0].from_status, Some(Status::Todo));
    assert_eq!(items["octo-org/hello-world#1342"].status, Status::Canceled);
    let open = &items["octo-org/hello-world#1340"];
    assert_eq!(open.status, Status::InProgress);
    assert_eq!(open.transitions.len(), 1);
    assert_eq!(open.project_key, "octo-org/hello-world");
    assert_eq!(open.item_type.as_str(), "bug");
    // The cursor advanced page by page to the last issue seen (the PR's update counts too).
    assert_eq!(pass.cursor, Some(at("2024-03-06T11:00:00Z")));
}

#[tokio::test]
async fn test_connection_reads_the_login() {
    let fake = Fake::start("github").await;
    let c = gh();
    let viewer = sync::providers::connection::test_connection(&c.http, &fake.base)
        .await
        .unwrap();
    assert_eq!(viewer.id, "octocat");
    assert_eq!(viewer.name.as_deref(), Some("The Octocat"));
}
