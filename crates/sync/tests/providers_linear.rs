//! Linear connector against the fake server: endCursor paging, history paging and transitions,
//! RATELIMITED whatever the HTTP status, complexity errors not retried, deferral and resume.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::{BTreeMap, HashMap};

use analytics::status_map::OrgMappings;
use analytics::work_item::Status;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use support::fake::{Canned, Fake};
use support::{TestClient, at, lc, t0};
use sync::providers::linear::{self, LinearWorkspace};
use sync::providers::records::{TransitionSource, WorkItem};
use sync::providers::{Error, Pass, PassEnd, PassInput};

const PAGE2_CURSOR: &str = "3d7f9e5b-4a6c-4b8d-9e0f-1a2b3c4d5e6f";

fn ws(fake: &Fake) -> LinearWorkspace {
    LinearWorkspace {
        endpoint: format!("{}/graphql", fake.base),
    }
}

fn by_key(items: &[WorkItem]) -> BTreeMap<String, WorkItem> {
    items
        .iter()
        .map(|i| (i.external_key.clone(), i.clone()))
        .collect()
}

fn stored(items: &[WorkItem]) -> HashMap<String, DateTime<Utc>> {
    items
        .iter()
        .map(|i| (i.external_key.clone(), i.updated_at))
        .collect()
}

async fn run(c: &TestClient, fake: &Fake, input: PassInput<'_>) -> Result<Pass<WorkItem>, Error> {
    linear::issues(&c.http, &ws(fake), &OrgMappings::default(), input).await
}

/// Linear's rate-limit answer: a GraphQL error with `extensions.code = RATELIMITED`.
fn ratelimited(status: u16, reset: DateTime<Utc>) -> Canned {
    let reset_ms = (reset.timestamp() * 1000).to_string();
    Canned::new(
        status,
        &[
            ("x-ratelimit-requests-limit", "1500"),
            ("x-ratelimit-requests-remaining", "0"),
            ("x-ratelimit-requests-reset", &reset_ms),
        ],
        json!({"errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED", "type": "ratelimited", "userPresentableMessage": "Too many requests. Please try again later."}}]}),
    )
}

#[tokio::test]
async fn pages_by_end_cursor_and_builds_transitions_from_history() {
    let fake = Fake::start("linear").await;
    let c = lc();
    let (etags, known) = (HashMap::new(), HashMap::new());
    let pass = run(&c, &fake, PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert_eq!(pass.end, PassEnd::Complete);
    let items = by_key(&pass.items);
    assert_eq!(
        items.keys().map(String::as_str).collect::<Vec<_>>(),
        ["ENG-41", "ENG-42", "ENG-43"]
    );
    // 2 issue pages + 1 history continuation of ENG-43.
    assert_eq!(c.http.requests(), 3);
    assert_eq!(fake.count(|h| h.body.contains(PAGE2_CURSOR)), 1);
    assert_eq!(
        fake.hits()[0].authorization.as_deref(),
        Some("lin_api_fixture0000")
    );
    assert_eq!(pass.cursor, Some(at("2024-03-07T09:00:00Z")));

    let done = &items["ENG-41"];
    assert_eq!(done.status, Status::Done);
    let path: Vec<Status> = done.transitions.iter().map(|t| t.to_status).collect();
    assert_eq!(
        path,
        [
            Status::Todo,
            Status::InProgress,
            Status::InReview,
            Status::Done
        ]
    );
    assert_eq!(done.transitions[0].from_status, Some(Status::Backlog));
    assert!(
        done.transitions
            .iter()
            .all(|t| t.source == TransitionSource::History)
    );
    assert_eq!(
        (done.project_key.as_str(), done.item_type.as_str()),
        ("ENG", "bug")
    );

    let review = &items["ENG-42"];
    assert_eq!(review.status, Status::InReview);
    assert_eq!(review.story_points, Some(0.0), "0 is a real estimate");
    assert_eq!(review.parent_key.as_deref(), Some("ENG-40"));

    let canceled = &items["ENG-43"];
    assert_eq!(canceled.status, Status::Canceled);
    let path: Vec<Status> = canceled.transitions.iter().map(|t| t.to_status).collect();
    assert_eq!(
        path,
        [Status::InProgress, Status::Blocked, Status::Canceled]
    );
    assert_eq!(canceled.canceled_at, Some(at("2024-03-05T00:00:00Z")));
}

#[tokio::test]
async fn an_unchanged_workspace_costs_one_query() {
    let fake = Fake::start("linear").await;
    let (etags, none) = (HashMap::new(), HashMap::new());
    let full = run(&lc(), &fake, PassInput::fresh(&etags, &none))
        .await
        .unwrap();
    let known = stored(&full.items);
    fake.clear_log();
    let c = lc();
    let pass = run(
        &c,
        &fake,
        PassInput {
            cursor: full.cursor,
            ..PassInput::fresh(&etags, &known)
        },
    )
    .await
    .unwrap();
    assert_eq!(c.http.requests(), 1);
    assert!(pass.items.is_empty());
    assert!(fake.hits()[0].body.contains("2024-03-07T08:55:00.000Z"));
    assert_eq!(pass.cursor, full.cursor);
}

#[tokio::test]
async fn ratelimited_is_a_rate_limit_whatever_the_status() {
    let fake = Fake::start("linear").await;
    fake.inject_when(
        "POST",
        "/graphql",
        Some("query Issues"),
        1,
        ratelimited(400, t0() + Duration::seconds(30)),
    );
    fake.inject_when(
        "POST",
        "/graphql",
        Some("query IssueHistory"),
        1,
        ratelimited(200, t0() + Duration::seconds(90)),
    );
    let c = lc();
    let (etags, known) = (HashMap::new(), HashMap::new());
    let pass = run(&c, &fake, PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert_eq!(pass.items.len(), 3);
    // Until each reset + 1 s (the clock moved 31 s with the first wait).
    assert_eq!(c.waits_s(), [31, 60]);
}

#[tokio::test]
async fn a_rejected_query_is_not_retried() {
    let fake = Fake::start("linear").await;
    fake.inject_when(
        "POST",
        "/graphql",
        Some("query Issues"),
        3,
        Canned::new(400, &[], json!({"errors": [{"message": "Query too complex", "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]})),
    );
    let c = lc();
    let (etags, known) = (HashMap::new(), HashMap::new());
    let err = run(&c, &fake, PassInput::fresh(&etags, &known))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::GraphQl { .. }), "{err}");
    assert_eq!(c.http.requests(), 1);
}

#[tokio::test]
async fn server_errors_back_off_then_succeed() {
    let fake = Fake::start("linear").await;
    fake.inject_when(
        "POST",
        "/graphql",
        Some(PAGE2_CURSOR),
        2,
        Canned::server_error(502),
    );
    let c = lc();
    let (etags, known) = (HashMap::new(), HashMap::new());
    let pass = run(&c, &fake, PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert_eq!(pass.items.len(), 3);
    assert_eq!(c.sleeper.waits().len(), 2);
    assert_eq!(c.http.requests(), 5);
}

#[tokio::test]
async fn a_long_rate_limit_defers_and_the_resumed_pass_finishes_exactly_once() {
    let fake = Fake::start("linear").await;
    let (etags, none) = (HashMap::new(), HashMap::new());
    let reference = by_key(
        &run(&lc(), &fake, PassInput::fresh(&etags, &none))
            .await
            .unwrap()
            .items,
    );
    fake.inject_when(
        "POST",
        "/graphql",
        Some(PAGE2_CURSOR),
        1,
        ratelimited(400, t0() + Duration::hours(2)),
    );
    let c = lc();
    let first = run(&c, &fake, PassInput::fresh(&etags, &none))
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
    assert_eq!(
        checkpoint.next.as_deref(),
        Some(PAGE2_CURSOR),
        "the endCursor is the checkpoint"
    );
    assert_eq!(
        first.cursor, None,
        "Linear's cursor waits for a complete pass"
    );

    let known = stored(&first.items);
    let second = run(
        &lc(),
        &fake,
        PassInput {
            cursor: first.cursor,
            checkpoint: Some(&checkpoint),
            ..PassInput::fresh(&etags, &known)
        },
    )
    .await
    .unwrap();
    assert_eq!(second.end, PassEnd::Complete);
    let (a, b) = (by_key(&first.items), by_key(&second.items));
    assert!(a.keys().all(|k| !b.contains_key(k)));
    let mut union = a;
    union.extend(b);
    assert_eq!(union, reference);
    assert_eq!(second.cursor, Some(at("2024-03-07T09:00:00Z")));
}

#[tokio::test]
async fn test_connection_reads_the_viewer() {
    let fake = Fake::start("linear").await;
    let viewer =
        sync::providers::connection::test_connection(&lc().http, &format!("{}/graphql", fake.base))
            .await
            .unwrap();
    assert_eq!(viewer.id, "0a4c6b2e-1d3f-4e5a-8b7c-9d0e1f2a3b4c");
}
